package apigee

// What an apps pass's totalSize counts.
//
// apps.list documents totalSize only as "Total count of Apps". Read as the
// count of the filtered list, each status and keyStatus pass reports its
// own, and their sum less the apps two passes list by design is the number
// of apps. Read as the count of every app of the organization, every pass
// reports the same number; summed, it would claim four times the apps, and
// the export would warn of apps "missed" that were never there. Four equal,
// non-zero totals from filters that are disjoint in status are the mark of
// the second reading: an organization would need exactly as many revoked
// apps as approved ones, every one with both kinds of keys, to give them
// under the first. The listing decides once, when it first knows every
// pass's total.
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
