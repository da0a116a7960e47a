// Package report collects benchmark figures and renders them as one aligned
// table for people and as JSON for tooling, from the same rows, so that the
// two can never disagree.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Row is one measured figure. Reference is what the figure is judged
// against (a paging floor, a quota, a naive baseline); Ratio is always
// Value / Reference so that a reader knows how to read it without guessing.
type Row struct {
	Section string  `json:"section"`
	Case    string  `json:"case"`
	Value   float64 `json:"value"`
	Unit    Unit    `json:"unit"`
	// Reference is zero when the figure stands alone.
	Reference     float64 `json:"reference,omitempty"`
	ReferenceUnit Unit    `json:"referenceUnit,omitempty"`
	// ReferenceName says what the reference is ("paging floor", "protojson").
	ReferenceName string  `json:"referenceName,omitempty"`
	Ratio         float64 `json:"ratio,omitempty"`
	// Note carries details a reader needs to trust the figure (sizes,
	// pages, what was left out).
	Note string `json:"note,omitempty"`
	// Extra holds secondary figures of the same measurement for tooling
	// (for example MB/s next to records/s); the note prints them for people.
	Extra map[string]float64 `json:"extra,omitempty"`
	// Skipped, when set, says why the case was not measured; Value is then
	// meaningless.
	Skipped string `json:"skipped,omitempty"`
}

// Report is the rows of one harness run, safe for concurrent use.
type Report struct {
	mu       sync.Mutex
	Started  time.Time         `json:"started"`
	Elapsed  Seconds           `json:"elapsedSeconds"`
	Settings map[string]string `json:"settings"`
	Sections []string          `json:"sections"`
	Rows     []Row             `json:"rows"`
	Notes    []string          `json:"notes,omitempty"`
}

// Seconds is a duration that encodes in JSON as fractional seconds.
type Seconds time.Duration

// MarshalJSON writes the duration in seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(math.Round(time.Duration(s).Seconds()*1000) / 1000)
}

// UnmarshalJSON reads fractional seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = Seconds(f * float64(time.Second))
	return nil
}

// New starts a report.
func New(started time.Time) *Report {
	return &Report{Started: started, Settings: map[string]string{}}
}

// Set records a setting of the run (what was measured, on what).
func (r *Report) Set(key, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Settings[key] = value
}

// Section records that a section ran, even if all its rows were skipped.
func (r *Report) Section(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Sections = append(r.Sections, name)
}

// Add appends a row, computing its ratio when it has a reference.
func (r *Report) Add(row Row) {
	if row.Skipped == "" && row.Reference != 0 && row.Ratio == 0 {
		row.Ratio = row.Value / row.Reference
	}
	if row.ReferenceUnit == "" && row.Reference != 0 {
		row.ReferenceUnit = row.Unit
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Rows = append(r.Rows, row)
}

// Skip appends a row that was not measured, saying why.
func (r *Report) Skip(section, name, why string) {
	r.Add(Row{Section: section, Case: name, Skipped: why})
}

// Note adds a line printed under the table.
func (r *Report) Note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the rows as one aligned table with units, followed by
// the notes.
func (r *Report) WriteTable(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "section\tcase\tvalue\treference\tratio\tnote")
	fmt.Fprintln(tw, "-------\t----\t-----\t---------\t-----\t----")
	for _, row := range r.Rows {
		value, ref, ratio := "-", "", ""
		note := row.Note
		if row.Skipped != "" {
			value = "skipped"
			note = row.Skipped
		} else {
			value = row.Unit.Format(row.Value)
			if row.Reference != 0 {
				ref = row.ReferenceUnit.Format(row.Reference)
				if row.ReferenceName != "" {
					ref += " " + row.ReferenceName
				}
				ratio = formatRatio(row.Ratio)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Section, row.Case, value, ref, ratio, oneLine(note))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintln(w, "* "+n)
		}
	}
	return nil
}

// oneLine keeps a note (often an error message) on its row: a line break
// would cut the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func formatRatio(x float64) string {
	switch {
	case x == 0:
		return "0"
	case x >= 100:
		return fmt.Sprintf("%.0fx", x)
	case x >= 10:
		return fmt.Sprintf("%.1fx", x)
	default:
		return fmt.Sprintf("%.2fx", x)
	}
}

// Unit names what a figure counts; it decides how the figure is printed.
type Unit string

// The units the harness reports.
const (
	Second       Unit = "s"
	Millisecond  Unit = "ms"
	KiB          Unit = "KiB"
	RecordsPerS  Unit = "rec/s"
	MBPerS       Unit = "MB/s"
	RequestsPerS Unit = "req/s"
	Count        Unit = "count"
)

// Format prints v with its unit in a readable magnitude.
func (u Unit) Format(v float64) string {
	switch u {
	case Second:
		return fmt.Sprintf("%.2f s", v)
	case Millisecond:
		if v < 10 {
			return fmt.Sprintf("%.2f ms", v)
		}
		return fmt.Sprintf("%.1f ms", v)
	case KiB:
		return fmt.Sprintf("%.1f MiB", v/1024)
	case RecordsPerS, RequestsPerS:
		return group(v) + " " + string(u)
	case MBPerS:
		return fmt.Sprintf("%.1f MB/s", v)
	case Count:
		return group(v)
	default:
		return strings.TrimSpace(fmt.Sprintf("%.3g %s", v, u))
	}
}

// group prints a rounded number with thousands separators.
func group(v float64) string {
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
