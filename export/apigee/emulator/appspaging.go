package emulator

import (
	"fmt"
	"sync"
)

// AppsPaging is how organizations.apps.list pages. The reference documents
// pageToken as "The starting index record for listing the developers" and
// says that pageSize and pageToken are "supported from ver 1.10.0 and
// above" (apigee-api.md §7.3), so a client must cope with a token that is
// an index into the list as it is when the page is asked for (an app
// deleted, or moved to another status, before the index shifts every
// later page by one), and with an organization that ignores both and pages
// only with rows and an inclusive startKey.
type AppsPaging int

const (
	// AppsIndexTokens: nextPageToken is the index, in the list filtered
	// by status and keyStatus as it is now, of the page's first app, as
	// the reference describes it. The default.
	AppsIndexTokens AppsPaging = iota
	// AppsStableTokens: nextPageToken is a position that deletions and
	// status changes do not shift (a deleted app leaves a hole), as a
	// server-side cursor would be.
	AppsStableTokens
	// AppsPre110: an organization older than 1.10, where pageSize and
	// pageToken are ignored: no nextPageToken is ever sent, and pages are
	// cut at rows (default and cap 1000) from an inclusive startKey.
	AppsPre110
)

var appsPagingNames = []string{"index", "stable", "pre-1.10"}

func (m AppsPaging) String() string {
	if m >= 0 && int(m) < len(appsPagingNames) {
		return appsPagingNames[m]
	}
	return fmt.Sprintf("AppsPaging(%d)", int(m))
}

// ParseAppsPaging reads a mode by its String name.
func ParseAppsPaging(s string) (AppsPaging, error) {
	for i, n := range appsPagingNames {
		if s == n {
			return AppsPaging(i), nil
		}
	}
	return 0, fmt.Errorf("unknown apps paging %q (want one of %v)", s, appsPagingNames)
}

// indexCache remembers where in the apps table the app at an index of a
// filtered list is, so that a client paging in order costs a page per page
// rather than a scan of the table from the start: each page notes where
// the next one starts. It keeps the last few per filter (a page asked for
// again after a fault, or ahead, still finds its entry), and any change to
// the apps (version) empties it.
type indexCache struct {
	mu      sync.Mutex
	version uint64
	at      map[filterKey]*[indexCacheSize]indexEntry
	next    map[filterKey]int // the entry to overwrite next
}

type filterKey struct{ status, keyStatus string }

type indexEntry struct {
	set        bool
	index, pos int
}

const indexCacheSize = 8

func (c *indexCache) get(version uint64, f filterKey, index int) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version || c.at[f] == nil {
		return 0, false
	}
	for _, e := range c.at[f] {
		if e.set && e.index == index {
			return e.pos, true
		}
	}
	return 0, false
}

func (c *indexCache) put(version uint64, f filterKey, index, pos int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version || c.at == nil {
		c.version = version
		c.at, c.next = map[filterKey]*[indexCacheSize]indexEntry{}, map[filterKey]int{}
	}
	es := c.at[f]
	if es == nil {
		es = new([indexCacheSize]indexEntry)
		c.at[f] = es
	}
	i := c.next[f]
	es[i] = indexEntry{set: true, index: index, pos: pos}
	c.next[f] = (i + 1) % indexCacheSize
}

// appPos is the position in the apps table of the app at index i of the
// list that keep filters, or the table's length past its end. The caller
// holds o.mu (read).
func (o *orgState) appPos(status, keyStatus string, i int, keep func(*record) bool) int {
	if pos, ok := o.idx.get(o.version, filterKey{status, keyStatus}, i); ok {
		return pos
	}
	n := 0
	for pos, r := range o.apps.rows {
		if r == nil || !keep(r) {
			continue
		}
		if n == i {
			return pos
		}
		n++
	}
	return len(o.apps.rows)
}

// appIndex is the index, in the list that keep filters, of the first app
// at or after position pos of the apps table. The caller holds o.mu.
func (o *orgState) appIndex(pos int, keep func(*record) bool) int {
	n := 0
	for _, r := range o.apps.rows[:min(pos, len(o.apps.rows))] {
		if r != nil && keep(r) {
			n++
		}
	}
	return n
}
