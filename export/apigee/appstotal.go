package apigee

import "pubexport/export/apigee/apigeepb"

// What an apps pass's totalSize counts.
//
// apps.list documents totalSize only as "Total count of Apps". Read as the
// count of the filtered list, each status and keyStatus pass reports its
// own, and their sum less the apps two passes list by design is the number
// of apps. Read as the count of every app of the organization, every pass
// reports the same number; summed, it would claim four times the apps, and
// the export would warn of apps "missed" that were never there. Four equal,
// non-zero totals are the mark of the second reading: under the first, an
// organization would need exactly as many revoked apps as approved ones,
// and in each status exactly as many apps with an approved key as with a
// revoked one, which real organizations (far more approved apps and keys
// than revoked) do not have. The listing decides once, when it first knows
// every pass's total.
//
// Under the second reading a totalSize no longer tells which pass an app
// left or joined, so an app revoked or approved while the passes are read
// changes no total, and the check of appsrecheck.go would not see it. The
// count of every app still does: after the last pass, fewer distinct apps
// delivered than it counts means that some moved past the passes, and the
// listing reads every pass again once (see recheck).

// totalsKind says what the apps passes' totalSizes count.
type totalsKind uint8

const (
	totalsUnknown totalsKind = iota // not every pass's total known yet
	totalsPerPass                   // each pass's filtered list
	totalsAll                       // every app of the organization
)

// decideTotals decides, the first time every pass's totalSize is known,
// what they count.
func (l *Lister) decideTotals() {
	if l.totalsAll != totalsUnknown {
		return
	}
	first := l.totals[0]
	for _, t := range l.totals {
		if t < 0 {
			return
		}
	}
	l.totalsAll = totalsPerPass
	if first <= 0 {
		return
	}
	for _, t := range l.totals {
		if t != first {
			return
		}
	}
	l.totalsAll = totalsAll
}

// pageTotal is a page's TotalSize and TotalAll: the number of apps of the
// organization as last reported when the totals count every app,
// otherwise the sum of the passes' totals (-1 while one is not known).
func (l *Lister) pageTotal() (int64, bool) {
	if l.totalsAll == totalsAll {
		return l.last, true
	}
	var sum int64
	for _, t := range l.totals {
		if t < 0 {
			return -1, false
		}
		sum += t
	}
	return sum, false
}

// missedAll says, after the last pass, whether the passes delivered fewer
// distinct apps than the organization has by a totalSize that counts
// every app: apps moved between the passes while they were read.
func (l *Lister) missedAll() bool {
	return l.totalsAll == totalsAll && int64(l.seen.Len()) < l.last
}

// missedAllWarning says that every pass was read again for missedAll.
const missedAllWarning = "apps: every status and keyStatus listing reported the same totalSize, so it counts every app of the organization rather than each listing's, and the listings delivered fewer apps than it counts: every listing was read again from its start, for apps that moved between listings while the export ran (revoked, approved, or whose keys changed; apps read twice are exported once)"

// Foreseeing the apps two passes list.
//
// Summed, the passes' totalSizes count an app with approved and revoked
// keys twice, and the listing learns it only when the second pass meets
// the app: a total taken as their sum less the overlaps met falls all
// through the export ("57% of 33,000" and then "100% of 30,000"). But an
// app's own status and keys say which later passes list it, so each app
// delivered tells an overlap to come, and the share of such apps among
// those a pass delivered so far foresees those of the rest of the pass.
// Page.Expected is that estimate of the apps the listing will deliver:
// near the final count from the first page of a pass on, for an
// organization whose apps are alike throughout. Apps without keys are not
// foreseen (the reference does not say which passes list them); they are
// taken off once met.

// passCounts counts what an apps pass gave: apps delivered, the later
// passes those will be listed in again (summed over the apps), and apps
// read in all (delivered or not).
type passCounts struct{ got, fwd, read int64 }

// foresee counts an app that pass read; delivered says whether it was new.
func (l *Lister) foresee(a *apigeepb.App, pass int, delivered bool) {
	c := &l.counts[pass]
	c.read++
	if !delivered {
		if len(a.GetCredentials()) == 0 {
			l.unforeseen++ // an overlap foreseen by no one
		}
		return
	}
	c.got++
	if len(a.GetCredentials()) == 0 {
		return
	}
	for _, q := range appsPasses[pass+1:] {
		if a.GetStatus() != q.status {
			continue
		}
		for _, k := range a.GetCredentials() {
			if k.GetStatus() == q.keyStatus {
				c.fwd++
				break
			}
		}
	}
}

// expected is Page.Expected after a page of pass: -1 while a pass's total
// is not known.
func (l *Lister) expected(pass int) int64 {
	if l.totalsAll == totalsAll {
		return l.last
	}
	e, _ := l.pageTotal()
	if e < 0 {
		return -1
	}
	e -= l.unforeseen
	for p, c := range l.counts {
		e -= c.fwd
		if p == pass && c.got > 0 {
			if rest := l.totals[p] - c.read; rest > 0 {
				e -= rest * c.fwd / c.got
			}
		}
	}
	return max(e, 0)
}
