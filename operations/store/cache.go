package store

import (
	"bytes"
	"os"
	"sync"
	"time"

	"pubexport/operations/operationspb"
)

// maxCachedRecords bounds a store's decoded-record cache. Pollers ask for
// the few operations in progress over and over; a record is a few KB, so
// the bound keeps the cache to a few MB whatever the store holds.
const maxCachedRecords = 256

// recordCache keeps the last decoded record of each name with the exact
// bytes it was decoded from. Reading a record is cheap (a small file or
// object); decoding it is not (protojson with Anys: most of a GetOperation's
// CPU time). Polling reads the same unchanged record again and again, so a
// read whose bytes equal the cached ones reuses the decoded record.
//
// Comparing the bytes, not a generation or a file's times, keeps the cache
// exact: any change to a record changes its bytes (a local record's bytes
// include its generation), and bytes that are equal decode to equal
// records, whatever happened in between (deletion, re-creation).
type recordCache struct {
	mu      sync.Mutex
	entries map[string]cachedRecord
}

type cachedRecord struct {
	raw []byte
	rec *operationspb.OperationRecord
	gen int64
	// file is the local file raw was read from, once it is settled (see
	// settled); nil otherwise.
	file os.FileInfo
}

// settle is how old a local record file must be before a cached read of it
// is trusted on its file's identity alone. File times tick coarsely (a few
// milliseconds on Linux): a file replaced twice within one tick, its inode
// reused and its size unchanged, could look the same. A file last changed
// a second before it was read cannot: any later change is stamped later
// than that, whatever the tick.
const settle = time.Second

// unchanged returns the record cached for name (shared: see decode) when fi, the
// file's current state, is the settled file the record was read from:
// local records are only ever replaced (renamed over), never written in
// place, so the same file with the same size and time holds the same
// bytes, and reading and comparing them again can be skipped.
func (c *recordCache) unchanged(name string, fi os.FileInfo) (*operationspb.OperationRecord, int64, bool) {
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if !ok || e.file == nil || !os.SameFile(e.file, fi) || e.file.Size() != fi.Size() || !e.file.ModTime().Equal(fi.ModTime()) {
		return nil, 0, false
	}
	return e.rec, e.gen, true
}

// settled notes that name's cached record was read from fi, read at
// readAt, if the file was settled by then.
func (c *recordCache) settled(name string, raw []byte, fi os.FileInfo, readAt time.Time) {
	if readAt.Sub(fi.ModTime()) < settle {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[name]; ok && bytes.Equal(e.raw, raw) {
		e.file = fi
		c.entries[name] = e
	}
}

// decode returns the record raw holds and gen, from the cache when raw is
// the last bytes decoded under name, else with decode (which receives raw
// and returns the record and its generation) and then kept. The record is
// the cache's own, shared with every caller that reads the same bytes: it
// must not be changed (Get hands out copies; Peek this very record, so that
// its callers can tell an unchanged record by its pointer). raw must not be
// changed after the call.
func (c *recordCache) decode(name string, raw []byte, decode func([]byte) (*operationspb.OperationRecord, int64, error)) (*operationspb.OperationRecord, int64, error) {
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.rec, e.gen, nil
	}
	rec, gen, err := decode(raw)
	if err != nil {
		return nil, 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]cachedRecord)
	}
	if _, ok := c.entries[name]; !ok && len(c.entries) >= maxCachedRecords {
		for k := range c.entries { // an arbitrary one: pollers come back for theirs
			delete(c.entries, k)
			break
		}
	}
	c.entries[name] = cachedRecord{raw: raw, rec: rec, gen: gen}
	return rec, gen, nil
}

// forget drops name's entry (its record was deleted).
func (c *recordCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, name)
}
