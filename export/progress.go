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
