package apigee

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"unsafe"

	"google.golang.org/grpc/codes"

	"pubexport/formats/field"
)

// Reading the apps passes at the same time.
//
// The apps passes (see appsPasses) are independent listings, each paged by
// its own token, so they can be read at once: at 200 ms a page the wall
// time is then that of the longest pass rather than of all of them. The
// output must stay byte for byte what a sequential listing gives, and the
// simplest way to keep that promise is to change nothing about how pages
// become records: the Lister still takes the pages of pass 0, then pass 1,
// and so on, and decodes, deduplicates and counts them with the same code
// as ever. Only where a page's bytes come from changes. While the Lister
// works through one pass, a reader per later pass follows that pass's
// tokens and keeps the raw answers, as the API sent them, in spill objects
// (chunks of spillChunkPages pages, finalized before they are read) in the
// export's staging folder; when the Lister reaches that pass it reads the
// pages from the chunks instead of asking the API, checking that each was
// asked for with the cursor and page size it would have used. A reader that
// meets anything unusual (an error, an oversized page, a token it has
// followed before, a page whose next token it cannot see) stops there, and
// the Lister reads the rest of that pass itself, with all of its own rules.
// Deduplication, overlaps, totals, warnings and page numbers are therefore
// computed in sequential order by one Lister, whatever order the answers
// arrived in, and no format needs to know.
//
// Spills live in the destination (a bucket or a folder), never in memory
// or /tmp, which on Cloud Run is memory; a reader holds one page at a time.
// All requests of a listing, its readers' included, share the client's rate
// limit and the listing's cap on requests in flight.

// Spill keeps the pages read ahead: objects that the export removes with
// its staging folder.
type Spill interface {
	// Create starts a new object; it exists once the writer's Close
	// returns nil.
	Create(ctx context.Context, name string) (SpillWriter, error)
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// SpillWriter writes one spill object.
type SpillWriter interface {
	io.Writer
	Close() error
	// Abort discards the object; safe after Close.
	Abort()
}

// spillChunkPages is the number of pages in one spill object: the Lister
// can read a chunk only once its reader has finalized it.
const spillChunkPages = 4

// DefaultParallelRequests is the cap on requests in flight for one
// listing unless told otherwise: the four apps passes at once.
const DefaultParallelRequests = 4

// MaxParallelRequests bounds the cap on requests in flight a listing
// accepts: far above what helps (a few passes) and far below anything
// that would hurt the API.
const MaxParallelRequests = 64

// CheckParallelRequests refuses a cap on requests in flight outside 1 to
// MaxParallelRequests with INVALID_ARGUMENT wrapping a *field.Error.
func CheckParallelRequests(n int) error {
	if n >= 1 && n <= MaxParallelRequests {
		return nil
	}
	return fieldError(codes.InvalidArgument, &field.Error{Field: "maxParallelRequests", Value: strconv.Itoa(n),
		Problem: fmt.Sprintf("%d requests in flight is out of range", n),
		Valid:   fmt.Sprintf("use 1 (one request at a time) to %d; %d reads the four apps passes at once", MaxParallelRequests, DefaultParallelRequests)})
}

// ReadAhead sets how many requests the listing may have in flight at once
// (counting the request for the next page made early and the readers of
// later apps passes) and, for apps with parallel above 1 and a spill, reads
// the later apps passes at the same time as the current one (see above).
// Call it before the first Next. parallel < 1 is taken as 1.
func (l *Lister) ReadAhead(parallel int, spill Spill) {
	parallel = min(max(parallel, 1), MaxParallelRequests)
	l.sem = make(chan struct{}, parallel)
	if l.r == Apps && parallel > 1 && spill != nil {
		l.spill = spill
	}
}

// getSized is Client.getSized under the listing's cap on requests in
// flight.
func (l *Lister) getSized(ctx context.Context, u string, hint int) ([]byte, error) {
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, contextError(ctx.Err(), "GET "+RedactURL(u))
		}
		defer func() { <-l.sem }()
	}
	return l.c.getSized(ctx, u, hint)
}

// passReader reads one apps pass ahead of the Lister into spill chunks.
type passReader struct {
	pass   int
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader's goroutine has ended

	mu      sync.Mutex
	chunks  []string      // finalized spill objects, in order
	ended   bool          // nothing more will be spilled
	changed chan struct{} // closed (and replaced) when chunks or ended change
	err     error         // why the reader stopped early, for logs only

	// The Lister's side: where it reads.
	read   int // chunks opened
	in     io.ReadCloser
	br     *bufio.Reader
	closed bool // the Lister reads this pass itself from now on
}

// startReaders starts a reader for each apps pass after the one the
// listing is in.
func (l *Lister) startReaders(ctx context.Context) {
	l.readers = make([]*passReader, len(appsPasses))
	for i := l.cur.pass() + 1; i < len(appsPasses); i++ {
		rctx, cancel := context.WithCancel(ctx)
		r := &passReader{pass: i, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
		l.readers[i] = r
		go r.run(rctx, l, l.spillName(i))
	}
}

func (l *Lister) spillName(pass int) func(int) string {
	return func(n int) string { return fmt.Sprintf("apps-pass-%d-chunk-%05d", pass, n) }
}

// stopReaders stops every reader and waits for them to end.
func (l *Lister) stopReaders() {
	for _, r := range l.readers {
		if r != nil {
			r.cancel()
			<-r.done
			r.release()
		}
	}
	l.readers = nil
}

// run follows the pass's tokens from its start, spilling each answer.
func (r *passReader) run(ctx context.Context, l *Lister, name func(int) string) {
	defer close(r.done)
	defer r.end()
	var (
		w      SpillWriter
		pages  int
		tokens = map[string]bool{}
		cur    = passStart(r.pass)
		size   = l.c.pageSize
	)
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()
	seal := func() error {
		if w == nil {
			return nil
		}
		err := w.Close()
		n := name(len(r.chunks))
		w = nil
		if err != nil {
			return fmt.Errorf("completing spill %s: %w", n, err)
		}
		r.mu.Lock()
		r.chunks = append(r.chunks, n)
		r.notify()
		r.mu.Unlock()
		return nil
	}
	for {
		q := appsQuery(r.pass, size)
		if cur.PageToken != "" {
			q.Set("pageToken", cur.PageToken)
		}
		body, err := l.getSized(ctx, l.listURL(q), 0)
		if err != nil {
			r.stop(seal(), err)
			return
		}
		if w == nil {
			if w, err = l.spill.Create(ctx, name(len(r.chunks))); err != nil {
				r.stop(err)
				return
			}
		}
		if err := writeEntry(w, cur, body); err != nil {
			r.stop(err)
			return
		}
		pages++
		pk, ok := peekPage(Apps, unsafe.String(unsafe.SliceData(body), len(body)), false)
		next := pk.nextToken
		if !ok || next == "" || next == cur.PageToken || tokens[next] {
			// The end of the pass, or a page the Lister must judge.
			r.stop(seal())
			return
		}
		tokens[next] = true
		cur = passCursor(r.pass, next)
		if pages%spillChunkPages == 0 {
			if err := seal(); err != nil {
				r.stop(err)
				return
			}
		}
	}
}

func (r *passReader) stop(errs ...error) {
	r.mu.Lock()
	r.err = errors.Join(errs...)
	r.mu.Unlock()
}

func (r *passReader) end() {
	r.mu.Lock()
	r.ended = true
	r.notify()
	r.mu.Unlock()
}

func (r *passReader) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *passReader) release() {
	if r.in != nil {
		r.in.Close()
		r.in, r.br = nil, nil
	}
	r.closed = true
}

// writeEntry spills one answer: the cursor it was asked for (JSON) and
// its body, each behind its length.
func writeEntry(w io.Writer, cur Cursor, body []byte) error {
	c, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	var hdr []byte
	hdr = binary.AppendUvarint(hdr, uint64(len(c)))
	hdr = append(hdr, c...)
	hdr = binary.AppendUvarint(hdr, uint64(len(body)))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}

// maxSpilledEntry bounds what a spilled entry may claim to hold, so that a
// damaged chunk cannot make the Lister allocate without limit.
const maxSpilledEntry = 1 << 30

// spilled returns the answer the reader of cur's pass spilled for cur, or
// ok false when the pass has no reader (any more): the Lister then asks the
// API itself. It waits for the reader when the page is not spilled yet.
func (l *Lister) spilled(ctx context.Context, cur Cursor) (body []byte, ok bool, err error) {
	if l.readers == nil {
		return nil, false, nil
	}
	r := l.readers[cur.pass()]
	if r == nil || r.closed {
		return nil, false, nil
	}
	if l.size != l.c.pageSize {
		r.cancel()
		r.release()
		return nil, false, nil
	}
	for r.br == nil {
		r.mu.Lock()
		n, ended, changed := len(r.chunks), r.ended, r.changed
		r.mu.Unlock()
		switch {
		case r.read < n:
			r.mu.Lock()
			name := r.chunks[r.read]
			r.mu.Unlock()
			in, err := l.spill.Open(ctx, name)
			if err != nil {
				return nil, false, newError(codes.Unavailable, err, "listing apps of organization %q: reading pages read ahead from %s: %v", l.org, name, err)
			}
			r.read++
			r.in, r.br = in, bufio.NewReaderSize(in, 64<<10)
		case ended:
			r.release()
			return nil, false, nil
		default:
			select {
			case <-changed:
			case <-ctx.Done():
				return nil, false, contextError(ctx.Err(), "waiting for pages read ahead")
			}
		}
	}
	c, err := readChunk(r.br)
	if errors.Is(err, io.EOF) {
		r.in.Close()
		r.in, r.br = nil, nil
		return l.spilled(ctx, cur)
	}
	var at Cursor
	if err == nil {
		err = json.Unmarshal(c, &at)
	}
	if err == nil {
		body, err = readChunk(r.br)
	}
	if err != nil {
		return nil, false, newError(codes.DataLoss, err, "listing apps of organization %q: a spilled page of pass %d is damaged: %v", l.org, r.pass, err)
	}
	if at != cur {
		// Not the page the Lister would ask for: it reads on itself.
		r.cancel()
		r.release()
		return nil, false, nil
	}
	return body, true, nil
}

// readChunk reads one length-prefixed field of a spilled entry.
func readChunk(br *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, err
	}
	if n > maxSpilledEntry {
		return nil, fmt.Errorf("an entry claims %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}
