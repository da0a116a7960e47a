package export

import "time"

// Progress is a snapshot of a running export, reported after every page and
// when an object is published. Counts are cumulative for the whole export,
// including the part done before a resume.
type Progress struct {
	Records int64 // records written
	Pages   int64 // pages fetched
	Bytes   int64 // bytes written, over all objects so far
	Objects int64 // objects published
	// Total is the number of records expected, or -1 when unknown: Apigee
	// reports a total only for apps; otherwise it comes from the previous
	// export of the same resource, and it is never guessed.
	Total      int64
	Duplicates int64 // records dropped because they were seen before
	Unknown    int64 // unknown JSON fields ignored (Apigee adds fields over time)
	// Warnings name what the export worked around or could not keep, each
	// with its count: unknown fields and enum values, fallbacks.
	Warnings []string
	// Waiting is how long the export has been waiting on Apigee for its
	// next page (a slow or retried request), 0 when it is not.
	Waiting time.Duration
}

// Percent is the share done, 0 to 100, and false when the total is unknown.
func (p Progress) Percent() (int, bool) {
	if p.Total <= 0 {
		return 0, false
	}
	pct := int(p.Records * 100 / p.Total)
	return min(pct, 100), true
}

// steadyTotal turns the total an export estimates into the one its progress
// reports, so that someone polling it sees the share done only grow: an
// estimate is not the truth (the last export's count for developers and API
// products; for apps the passes' totalSizes, which count an app in two
// passes twice until the second meets it, and move as apps change). The
// reported total is never below the records exported, and it grows only as
// far as the percentage already shown allows; it follows the estimate
// again as the records catch up.
type steadyTotal struct {
	total int64 // last reported, -1 before any
	pct   int64 // last percentage reported
}

func newSteadyTotal() steadyTotal { return steadyTotal{total: -1} }

// next is the total to report with records exported and the source's
// estimate (-1: none).
func (s *steadyTotal) next(records, estimate int64) int64 {
	if estimate < 0 {
		if s.total < 0 {
			return -1
		}
		estimate = s.total
	}
	t := max(estimate, records)
	if s.pct > 0 {
		// records*100/t stays at least pct for every t up to this, which
		// is at least records since pct is at most 100.
		t = min(t, records*100/s.pct)
	}
	s.total = t
	if t > 0 {
		s.pct = min(records*100/t, 100)
	}
	return t
}
