package apigee

import "context"

// Resuming the apps passes read ahead.
//
// A checkpoint names where the sequential listing stands (Cursor) and, with
// the later apps passes read ahead (see readahead.go), what each pass's
// reader had spilled by then: a count of finalized chunks (named by
// spillChunkName, so that the checkpoint stays a few numbers however long
// the pass), their total size, and the page token the reader would have
// asked for next. A listing resumed from it checks with one listing of the
// spill that those chunks are all there with that size, reads their pages
// instead of asking the API for them again, and starts each pass's reader at
// its own token rather than at the pass's start. Chunks that are missing or
// of another size are not trusted: that pass is read again from its start
// (the pass the listing is in, by the listing itself from its cursor). An
// entry whose checksum fails when it is read makes the listing read on
// itself from there (see Lister.spilled). Either way the pages turned into
// records are the API's answers to the same requests as in a sequential
// run, so the output does not change.

// Spilled is what the readers of the later apps passes had spilled when
// the listing returned a page (Page.Spilled): a checkpoint keeps it, and a
// listing resumed from that checkpoint takes it in ReadAhead.
type Spilled struct {
	Passes []SpilledPass `json:"passes,omitempty"`
}

// SpilledPass is what one apps pass's reader had spilled.
type SpilledPass struct {
	Pass int `json:"pass"` // index in the listing's order of apps passes
	// Chunks counts the pass's finalized spill objects, the first Chunks
	// by the naming rule; Bytes is their total size.
	Chunks int   `json:"chunks"`
	Bytes  int64 `json:"bytes"`
	// Next is the page token the reader asks for after those chunks, ""
	// when it goes no further (the pass ended, or it stopped at a page the
	// listing must judge itself).
	Next string `json:"next,omitempty"`
	// Read is, for the pass the listing is in, the chunk that holds the
	// page at its cursor or the last page before it.
	Read int `json:"read,omitempty"`
}

// spilledState is what the readers have spilled, for the page that Next
// is about to return (the listing's cursor is already after it), or nil.
// A pass whose reader the listing gave up on is left out: a resumed
// listing reads it as this one would.
func (l *Lister) spilledState() *Spilled {
	if l.readers == nil || l.cur.Done {
		return nil
	}
	var s Spilled
	cur := l.cur.pass()
	for i := cur; i < len(l.readers); i++ {
		r := l.readers[i]
		if r == nil || r.closed {
			continue
		}
		r.mu.Lock()
		p := SpilledPass{Pass: i, Chunks: r.chunks, Bytes: r.bytes, Next: r.next}
		r.mu.Unlock()
		if p.Chunks == 0 {
			continue
		}
		if i == cur {
			p.Read = r.read
			if r.br != nil {
				p.Read-- // the chunk being read
			}
		}
		s.Passes = append(s.Passes, p)
	}
	if len(s.Passes) == 0 {
		return nil
	}
	return &s
}

// checkSpilled returns, by pass, the spills of l.from that are all there
// with the size it recorded, and only those. It lists the spill once; if
// that fails, nothing is reused.
func (l *Lister) checkSpilled(ctx context.Context) [len(appsPasses)]*SpilledPass {
	var ok [len(appsPasses)]*SpilledPass
	if l.from == nil || len(l.from.Passes) == 0 {
		return ok
	}
	sizes, err := l.spill.Sizes(ctx, "apps-pass-")
	if err != nil {
		return ok
	}
	for _, p := range l.from.Passes {
		if p.Pass < l.cur.pass() || p.Pass >= len(appsPasses) || p.Chunks <= 0 || p.Read < 0 || p.Read >= p.Chunks || ok[p.Pass] != nil {
			continue
		}
		var total int64
		whole := true
		for n := range p.Chunks {
			size, found := sizes[spillChunkName(p.Pass, n)]
			whole = whole && found
			total += size
		}
		if whole && total == p.Bytes {
			ok[p.Pass] = &p
		}
	}
	return ok
}
