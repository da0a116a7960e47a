// Package progress shows running exports to a person: one live bar per export
// on a terminal, and plain, throttled log lines everywhere else (a CI log, a
// file, a pipe), where redrawn lines would be noise.
//
// The display is fed snapshots by whoever watches the export (in-process or
// by polling an operations API), so it knows nothing about where exports run.
package progress

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Snapshot is one observation of an export's counters, cumulative.
type Snapshot struct {
	Records int64
	Pages   int64
	Bytes   int64
	Objects int64
	// Total is the number of records expected, or <= 0 when unknown: the
	// display then shows no percentage rather than a made-up one.
	Total int64
	// Waiting is how long the export has waited on Apigee for its next
	// page (slow answers, retries through a quota window); 0 when not.
	Waiting time.Duration
}

// Options configures New.
type Options struct {
	// Terminal selects live bars; false selects log lines.
	Terminal bool
	// Width is the bars' width in columns (40 when zero), so that the
	// counters after them line up on every line.
	Width int
	// Interval is the least time between two log lines of one export in
	// line mode (2s when zero). The final line is always written.
	Interval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Display shows a set of exports. Create it with New, Add one Task per export,
// and call Wait once every task is finished.
type Display struct {
	w    io.Writer
	o    Options
	mu   sync.Mutex // serialises line-mode writes
	bars *mpb.Progress
}

// New returns a display writing to w.
func New(w io.Writer, o Options) *Display {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &Display{w: w, o: o}
	if o.Terminal {
		// WithAutoRefresh, not ForceTTY: a real terminal is detected by mpb
		// (and redrawn in place); any other writer gets appended frames.
		opts := []mpb.ContainerOption{mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithRefreshRate(120 * time.Millisecond)}
		opts = append(opts, mpb.WithWidth(cmp.Or(o.Width, 40)))
		d.bars = mpb.New(opts...)
	}
	return d
}

// Task is one export on the display. Its methods are safe for concurrent use.
type Task struct {
	d     *Display
	label string
	start time.Time

	mu       sync.Mutex
	last     Snapshot
	lastLine time.Time
	lineSeen bool
	state    string // "" running, else the final word
	finished bool

	bar *mpb.Bar
}

// Add puts an export on the display under label (e.g. "developers").
func (d *Display) Add(label string) *Task {
	t := &Task{d: d, label: label, start: d.o.Now()}
	if d.bars != nil {
		// Add fails only after Wait; a task added then just has no bar.
		t.bar, _ = d.bars.Add(0, switchFiller{
			known:   mpb.BarStyle().Lbound("[").Rbound("]").Build(),
			unknown: mpb.SpinnerStyle().Build(),
		},
			mpb.BarFillerTrim(),
			// WCSyncSpaceR pads every label to the longest, so the bars line up.
			mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return " " + t.barText() })),
		)
	}
	return t
}

// Update records a new snapshot.
func (t *Task) Update(s Snapshot) {
	t.mu.Lock()
	if t.finished {
		t.mu.Unlock()
		return
	}
	changed := s != t.last
	t.last = s
	now := t.d.o.Now()
	// Nothing done yet is not worth a line: the first line says something
	// (a wait on Apigee does: it tells a slow start from a hang).
	started := s.Records > 0 || s.Pages > 0 || s.Bytes > 0 || s.Waiting > 0
	writeLine := t.bar == nil && changed && started && (!t.lineSeen || now.Sub(t.lastLine) >= t.d.o.Interval)
	if writeLine {
		t.lineSeen, t.lastLine = true, now
	}
	line := t.line(now)
	t.mu.Unlock()

	if t.bar != nil {
		// SetTotal with false never completes the bar: only Finish does,
		// since a total reported by Apigee can be exceeded.
		if s.Total > 0 {
			t.bar.SetTotal(s.Total, false)
		}
		t.bar.SetCurrent(s.Records)
		return
	}
	if writeLine {
		t.d.println(line)
	}
}

// Finish ends the task: err nil shows it done, otherwise failed with the
// error's message. A finished task ignores later calls.
func (t *Task) Finish(final Snapshot, err error) {
	t.mu.Lock()
	if t.finished {
		t.mu.Unlock()
		return
	}
	t.finished = true
	t.last = final
	t.state = "done"
	if err != nil {
		t.state = "failed: " + err.Error()
	}
	line := t.line(t.d.o.Now())
	t.mu.Unlock()

	if t.bar != nil {
		t.bar.SetCurrent(final.Records)
		if err != nil {
			t.bar.Abort(false)
		} else {
			t.bar.SetTotal(-1, true)
		}
		return
	}
	t.d.println(line)
}

// Wait renders the final state of every bar and returns once all tasks are
// finished; call it after the last Finish.
func (d *Display) Wait() {
	if d.bars != nil {
		d.bars.Wait()
	}
}

// Writer returns where other output (log lines) should go while the
// display runs: on a terminal, lines written to it appear above the bars
// instead of tearing them.
func (d *Display) Writer() io.Writer {
	if d.bars != nil {
		return d.bars
	}
	return lockedWriter{d}
}

type lockedWriter struct{ d *Display }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.w.Write(p)
}

func (d *Display) println(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintln(d.w, s)
}

// line is the line-mode text; call with t.mu held.
func (t *Task) line(now time.Time) string {
	var b strings.Builder
	b.WriteString(t.label)
	b.WriteString(": ")
	if t.state != "" {
		b.WriteString(t.state)
		b.WriteString(", ")
	}
	b.WriteString(counters(t.last, now.Sub(t.start), ", "))
	return b.String()
}

// barText is what follows the bar: counters, rate, percentage when known.
func (t *Task) barText() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := counters(t.last, t.d.o.Now().Sub(t.start), " · ")
	if t.state != "" {
		s += " · " + t.state
	}
	return s
}

// counters formats a snapshot; the percentage appears only with a total.
func counters(s Snapshot, elapsed time.Duration, sep string) string {
	parts := []string{
		plural(s.Records, "record"),
		plural(s.Pages, "page"),
		Bytes(s.Bytes),
	}
	if s.Objects > 0 {
		parts = append(parts, plural(s.Objects, "object"))
	}
	if secs := elapsed.Seconds(); secs >= 0.05 && s.Records > 0 {
		parts = append(parts, fmt.Sprintf("%.0f records/s", float64(s.Records)/secs))
	}
	if s.Total > 0 {
		pct := min(s.Records*100/s.Total, 100)
		parts = append(parts, fmt.Sprintf("%d%% of %d", pct, s.Total))
	}
	if s.Waiting > 0 {
		parts = append(parts, fmt.Sprintf("waiting on Apigee for %v", s.Waiting.Round(time.Second)))
	}
	return strings.Join(parts, sep)
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Bytes formats a byte count in decimal units (1.5 kB, 64.0 MB), the units
// of the operation's own progress description and of storage consoles, so
// that the bar and `operations get` show the same figure for the same bytes.
func Bytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB", "PB"} {
		f /= 1000
		if f < 999.95 || unit == "PB" {
			return fmt.Sprintf("%.1f %s", f, unit)
		}
	}
	return fmt.Sprintf("%d B", n) // not reached
}

// switchFiller draws a bar once the total is known and a spinner before:
// an export learns its total (if ever) only after its first page.
type switchFiller struct{ known, unknown mpb.BarFiller }

func (f switchFiller) Fill(w io.Writer, s decor.Statistics) error {
	if s.Total > 0 {
		return f.known.Fill(w, s)
	}
	return f.unknown.Fill(w, s)
}
