package emulator

import (
	"fmt"
	"net/url"
)

// ExpandMode is how developers.list treats expand=true next to count or
// startKey. The reference says expand "is not valid if you use the count or
// startKey query parameters" without saying what the API then does, so the
// emulator can play each reading of it; clients must cope with all of them.
type ExpandMode int

const (
	// ExpandHonoured expands records whatever else the request says, as
	// the API does today for widely used clients (the default).
	ExpandHonoured ExpandMode = iota
	// ExpandIgnoredWithCount answers the expand=false shape (emails only)
	// when count is given, and expands with startKey alone, paging by the
	// list's default size.
	ExpandIgnoredWithCount
	// ExpandIgnoredWithStartKey answers emails only when count or startKey
	// is given: only a first page without either is expanded.
	ExpandIgnoredWithStartKey
	// ExpandRejected answers 400 INVALID_ARGUMENT to expand=true with count
	// or startKey.
	ExpandRejected
)

var expandModeNames = []string{"honoured", "ignored-with-count", "ignored-with-startkey", "rejected"}

func (m ExpandMode) String() string {
	if m >= 0 && int(m) < len(expandModeNames) {
		return expandModeNames[m]
	}
	return fmt.Sprintf("ExpandMode(%d)", int(m))
}

// ParseExpandMode reads a mode by its String name.
func ParseExpandMode(s string) (ExpandMode, error) {
	for i, n := range expandModeNames {
		if s == n {
			return ExpandMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown expand mode %q (want one of %v)", s, expandModeNames)
}

// expands says whether a developers.list request with expand=true and the
// query q gets expanded records, or the error it gets instead.
func (m ExpandMode) expands(q url.Values) (bool, error) {
	count, startKey := q.Has("count"), q.Has("startKey")
	switch m {
	case ExpandIgnoredWithCount:
		return !count, nil
	case ExpandIgnoredWithStartKey:
		return !count && !startKey, nil
	case ExpandRejected:
		if count || startKey {
			return false, invalidArgument("expand is not valid with the count or startKey query parameters")
		}
	}
	return true, nil
}
