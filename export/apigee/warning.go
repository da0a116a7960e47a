package apigee

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/internal/pagejson"
)

// Warning is something a listing worked around or could not keep: an
// unknown field or enum value it dropped, a way of listing it fell back to.
// An export gathers them into its operation's warnings and its manifest.
type Warning struct {
	// Text says what happened, without a count.
	Text string `json:"text"`
	// Count is how often it happened; warnings with the same Text add up.
	// 0 for a warning that is not counted.
	Count int64 `json:"count,omitempty"`
}

func (w Warning) String() string {
	if w.Count <= 0 {
		return w.Text
	}
	return fmt.Sprintf("%s (%s %s)", w.Text, thousands(w.Count), pluralWord(int(min(w.Count, 2)), "time"))
}

// maxWarnings bounds MergeWarnings: past it, counted warnings go under one
// "other" text, so that a source that names a million things cannot grow
// an export's checkpoint and metadata without bound.
const maxWarnings = 100

const otherWarnings = "other unknown fields and values ignored"

// MergeWarnings returns ws with more added: counts of equal texts add up,
// new texts are appended, and the result is sorted by text, so that the
// same warnings in any order merge to the same list. ws is not modified (a
// checkpoint may hold it).
func MergeWarnings(ws, more []Warning) []Warning {
	if len(more) == 0 {
		return ws
	}
	ws = slices.Clone(ws)
	for _, w := range more {
		i := slices.IndexFunc(ws, func(x Warning) bool { return x.Text == w.Text })
		if i < 0 && len(ws) >= maxWarnings {
			w.Text = otherWarnings
			i = slices.IndexFunc(ws, func(x Warning) bool { return x.Text == w.Text })
		}
		if i >= 0 {
			ws[i].Count += w.Count
			continue
		}
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b Warning) int { return strings.Compare(a.Text, b.Text) })
	return ws
}

// addUnknown counts what the decoder ignored on a page into the page's
// Unknown and Warnings, one warning per field path and enum value.
func (p *Page) addUnknown(u pagejson.Unknown) {
	if len(u) == 0 {
		return
	}
	p.Unknown += u.Total()
	ws := make([]Warning, 0, len(u))
	for k, n := range u {
		var text string
		switch {
		case k == pagejson.OtherUnknown:
			text = otherWarnings
		case k.Value == "":
			text = "ignored unknown field " + strconv.Quote(k.Path) + " (newer than this pubexport; not exported)"
		default:
			text = "ignored unknown value " + strconv.Quote(k.Value) + " of " + strconv.Quote(k.Path) + " (newer than this pubexport; exported as unset)"
		}
		ws = append(ws, Warning{Text: text, Count: int64(n)})
	}
	p.Warnings = MergeWarnings(p.Warnings, ws)
}

// developerAppsCap is how many app names developers.get shows: "The
// response includes only the first 100 developer apps."
const developerAppsCap = 100

// cappedAppsWarning says that a developer's apps field may be cut short.
const cappedAppsWarning = "developers with 100 or more names in apps: Apigee may cut that field at 100 (developers.get \"includes only the first 100 developer apps\"), so it may not list all their apps; the apps export lists every app, with its developer"

// warnCappedApps adds a warning for the developers among records whose
// apps field holds 100 names or more: it may be cut at 100, whichever way
// the developer was read (the reference says so of developers.get and
// nothing of the list).
func (p *Page) warnCappedApps(records []proto.Message) {
	n := 0
	for _, m := range records {
		if d, ok := m.(*apigeepb.Developer); ok && len(d.GetApps()) >= developerAppsCap {
			n++
		}
	}
	if n > 0 {
		p.Warnings = MergeWarnings(p.Warnings, []Warning{{Text: cappedAppsWarning, Count: int64(n)}})
	}
}

// thousands writes n with thousands separators: 12,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
		s = s[1:]
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// CheckTotal compares the records an export of r read with the total the
// API reported for them (apps: the totalSizes of the status and keyStatus
// passes, less the apps that a pass listed after an earlier one, see
// Page.Overlaps; or, with all, the one totalSize that every pass reported,
// which counts every app, see Page.TotalAll), and returns a warning when
// they differ. Apps that change status or keys, or are created or deleted,
// while a listing pages move between the passes or out of reach, so the
// difference is worth a word, not an error. With a static organization the
// two agree exactly: each pass lists what its totalSize counts.
func CheckTotal(r Resource, read, total int64, all bool) (Warning, bool) {
	if r != Apps || total < 0 || read == total {
		return Warning{}, false
	}
	diff, how := read-total, "more"
	if diff < 0 {
		diff, how = -diff, "fewer"
	}
	if all && how == "fewer" {
		// Every listing was read again after the last (see
		// appstotal.go), and still some apps are in none of them.
		return Warning{Text: fmt.Sprintf(
			"read %s apps, %s fewer than the %s the Apigee API reported (the totalSize every status and keyStatus listing reported, which counts every app of the organization), although every listing was read again: either apps changed while the export ran, and another export may find them, or apps.list lists some apps under no keyStatus, such as apps without keys (the reference does not say where it lists those), which no export through apps.list can reach",
			thousands(read), thousands(diff), thousands(total))}, true
	}
	what := "totalSize of the approved and revoked apps and keys, less the apps listed twice by design"
	if all {
		what = "the totalSize every status and keyStatus listing reported, which counts every app of the organization"
	}
	return Warning{Text: fmt.Sprintf(
		"read %s apps, %s %s than the %s the Apigee API reported (%s): apps created, deleted, or whose status or keys changed while the export paged were missed or added; export again for a consistent copy",
		thousands(read), thousands(diff), how, thousands(total), what)}, true
}
