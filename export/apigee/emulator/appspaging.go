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
	// by status and keyStatus as it is now, of the next page's first app,
	// written as a plain decimal number ("1000"), and a request's
	// pageToken is read as that index: the most literal reading of "The
	// starting index record". A pageToken that is not a decimal number is
	// refused with 400. Such a token has no expiry (ExpirePageTokens does
	// not touch it) and is not bound to a status or keyStatus: it is an
	// index into whichever list the request filters. The default.
	AppsIndexTokens AppsPaging = iota
	// AppsEncodedIndexTokens: the same index, but wrapped in an opaque
	// base64 token that also names the status and keyStatus it was made
	// for (a token used with other filters is refused with 400) and the
	// token epoch it was minted in (see Server.ExpirePageTokens), as a
	// server whose tokens a client cannot read would answer.
	AppsEncodedIndexTokens
	// AppsStableTokens: nextPageToken is a position that deletions and
	// status changes do not shift (a deleted app leaves a hole), as a
	// server-side cursor would be; opaque like AppsEncodedIndexTokens.
	AppsStableTokens
	// AppsPre110: an organization older than 1.10, where pageSize and
	// pageToken are ignored: no nextPageToken is ever sent, and pages are
	// cut at rows (default and cap 1000) from an inclusive startKey.
	AppsPre110
)

var appsPagingNames = []string{"index", "encoded-index", "stable", "pre-1.10"}

// indexed says whether the mode's tokens are an index into the list as it
// is now, which deletions and status changes before it shift.
func (m AppsPaging) indexed() bool { return m == AppsIndexTokens || m == AppsEncodedIndexTokens }

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
// it and the next one start. It keeps the last few per filter, and an
// index that is not among them is found by scanning from the nearest one
// before it: a client that asks for several pages ahead by index, in any
// order, pays a few pages per page, not a scan from the start. Any change
// to the apps (version) empties it.
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

const indexCacheSize = 32

func (c *indexCache) get(version uint64, f filterKey, index int) (int, bool) {
	e, ok := c.nearest(version, f, index)
	return e.pos, ok && e.index == index
}

// nearest is the entry with the largest index at or below index, if any.
func (c *indexCache) nearest(version uint64, f filterKey, index int) (indexEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best indexEntry
	if c.version != version || c.at[f] == nil {
		return best, false
	}
	for _, e := range c.at[f] {
		if e.set && e.index <= index && (!best.set || e.index > best.index) {
			best = e
		}
	}
	return best, best.set
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
	f := filterKey{status, keyStatus}
	from, n := 0, 0
	if e, ok := o.idx.nearest(o.version, f, i); ok {
		if e.index == i {
			return e.pos
		}
		from, n = e.pos, e.index
	}
	for pos := from; pos < len(o.apps.rows); pos++ {
		r := o.apps.rows[pos]
		if r == nil || !keep(r) {
			continue
		}
		if n == i {
			o.idx.put(o.version, f, i, pos)
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
