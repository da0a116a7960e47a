package apigee

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
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
// the Lister reads the rest of that pass itself, with all of its own rules;
// so does a Lister that finds a chunk missing or an entry damaged. A page
// returned says what was spilled by then (Page.Spilled), so that a listing
// resumed from a checkpoint reuses the chunks and continues each pass's
// reader from its own token (see spilled.go).
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
	// Sizes returns the size of every object whose name starts with
	// prefix, by name: a resumed listing checks with one call that the
	// chunks a checkpoint names are all there, whole (see spilled.go).
	Sizes(ctx context.Context, prefix string) (map[string]int64, error)
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
// (counting the requests for the next pages made early, which for an apps
// pass whose tokens are plain indices are that many, see indexahead.go,
// and the readers of later apps passes) and, for apps with parallel above 1 and a spill, reads
// the later apps passes at the same time as the current one (see above).
// from is what an interrupted listing had spilled by the page a checkpoint
// was taken at (Page.Spilled), or nil: the resumed listing reuses those
// chunks instead of asking for their pages again (see spilled.go).
// Call it before the first Next. parallel < 1 is taken as 1.
func (l *Lister) ReadAhead(parallel int, spill Spill, from *Spilled) {
	parallel = min(max(parallel, 1), MaxParallelRequests)
	l.sem = make(chan struct{}, parallel)
	if l.r == Apps && parallel > 1 && spill != nil {
		l.spill = spill
		l.from = from
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

	mu sync.Mutex
	// chunks counts the finalized spill objects, named by spillChunkName
	// in order, and bytes their size; next is the page token the reader
	// asks for after them, "" when it goes no further.
	chunks  int
	bytes   int64
	next    string
	ended   bool          // nothing more will be spilled
	changed chan struct{} // closed (and replaced) when chunks or ended change
	err     error         // why the reader stopped early, for logs only

	// The Lister's side: where it reads.
	read   int // chunks opened
	in     io.ReadCloser
	br     *bufio.Reader
	closed bool // the Lister reads this pass itself from now on
	// seek says that the listing was resumed inside this pass: the chunk
	// it opens first holds pages before its cursor, which it skips.
	seek bool
}

// spillChunkName names chunk n of apps pass pass: a rule, so that a
// checkpoint can name any number of chunks with a count.
func spillChunkName(pass, n int) string { return fmt.Sprintf("apps-pass-%d-chunk-%05d", pass, n) }

// startReaders starts a reader for each apps pass after the one the
// listing is in, each from where the checkpoint the listing resumed from
// says its reader was, if it says so (see spilled.go); the pass the listing
// is in gets one only to serve the chunks such a checkpoint names.
func (l *Lister) startReaders(ctx context.Context) {
	from := l.checkSpilled(ctx)
	l.from = nil
	l.readers = make([]*passReader, len(appsPasses))
	if l.rechecked {
		return // passes read again are asked of the API, never the spill
	}
	for i := l.cur.pass(); i < len(appsPasses); i++ {
		s := from[i]
		if i == l.cur.pass() && s == nil {
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		r := &passReader{pass: i, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
		if s != nil {
			r.chunks, r.bytes, r.next = s.Chunks, s.Bytes, s.Next
			if i == l.cur.pass() {
				r.read, r.seek = s.Read, true
			}
		}
		l.readers[i] = r
		go r.run(rctx, l)
	}
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

// run follows the pass's tokens, spilling each answer: from the pass's
// start, or after the chunks a resumed reader starts with, from the token
// its checkpoint names (if any).
func (r *passReader) run(ctx context.Context, l *Lister) {
	defer close(r.done)
	defer r.end()
	var (
		w      SpillWriter
		wrote  int64 // bytes in w
		pages  int
		tokens = map[string]bool{}
		cur    = passStart(r.pass)
		size   = l.c.pageSize
	)
	if r.chunks > 0 {
		if r.next == "" {
			return // the interrupted reader had gone as far as it would
		}
		cur = passCursor(r.pass, r.next)
	}
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()
	// seal finalizes the chunk being written, after which the reader
	// would ask for next ("" for nothing more).
	seal := func(next string) error {
		if w == nil {
			return nil
		}
		err := w.Close()
		n := spillChunkName(r.pass, r.chunks)
		w = nil
		if err != nil {
			return fmt.Errorf("completing spill %s: %w", n, err)
		}
		r.mu.Lock()
		r.chunks++
		r.bytes += wrote
		r.next = next
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
			r.stop(seal(cur.PageToken), err)
			return
		}
		if w == nil {
			if w, err = l.spill.Create(ctx, spillChunkName(r.pass, r.chunks)); err != nil {
				r.stop(err)
				return
			}
			wrote = 0
		}
		n, err := writeEntry(w, cur, body)
		if err != nil {
			r.stop(err)
			return
		}
		wrote += n
		pages++
		text := unsafe.String(unsafe.SliceData(body), len(body))
		next, ok := tailToken(text)
		if !ok {
			pk, peeked := peekPage(Apps, text, false)
			next, ok = pk.nextToken, peeked
		}
		if !ok || next == "" || next == cur.PageToken || tokens[next] {
			// The end of the pass, or a page the Lister must judge.
			r.stop(seal(""))
			return
		}
		tokens[next] = true
		cur = passCursor(r.pass, next)
		if pages%spillChunkPages == 0 {
			if err := seal(cur.PageToken); err != nil {
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

// readOn stops the reader: the Lister reads the rest of the pass itself.
func (r *passReader) readOn() {
	r.cancel()
	r.release()
}

// writeEntry spills one answer: the cursor it was asked for (JSON) and
// its body, each behind its length, then the CRC32C (Castagnoli) of both,
// so that a damaged chunk is never taken for the API's answer. It returns
// the bytes written.
func writeEntry(w io.Writer, cur Cursor, body []byte) (int64, error) {
	c, err := json.Marshal(cur)
	if err != nil {
		return 0, err
	}
	var hdr []byte
	hdr = binary.AppendUvarint(hdr, uint64(len(c)))
	hdr = append(hdr, c...)
	hdr = binary.AppendUvarint(hdr, uint64(len(body)))
	if _, err := w.Write(hdr); err != nil {
		return 0, err
	}
	if _, err := w.Write(body); err != nil {
		return 0, err
	}
	sum := binary.LittleEndian.AppendUint32(nil, entrySum(c, body))
	if _, err := w.Write(sum); err != nil {
		return 0, err
	}
	return int64(len(hdr) + len(body) + len(sum)), nil
}

func entrySum(cur, body []byte) uint32 {
	t := crc32.MakeTable(crc32.Castagnoli) // made once by the package
	return crc32.Update(crc32.Update(0, t, cur), t, body)
}

// maxSpilledCursor bounds the cursor of a spilled entry: a page token is
// far shorter.
const maxSpilledCursor = 1 << 20

// spilled returns the answer the reader of cur's pass spilled for cur, or
// ok false when the pass has no reader (any more): the Lister then asks the
// API itself. It waits for the reader when the page is not spilled yet.
// Whatever goes wrong with the spill (a chunk missing or unreadable, an
// entry damaged, a page other than the one at cur) makes the Lister read on
// itself from cur: the spill only saves requests, the API has the answers.
func (l *Lister) spilled(ctx context.Context, cur Cursor) (body []byte, ok bool, err error) {
	if l.readers == nil {
		return nil, false, nil
	}
	r := l.readers[cur.pass()]
	if r == nil || r.closed {
		return nil, false, nil
	}
	if l.size != l.c.pageSize {
		r.readOn()
		return nil, false, nil
	}
	// A resumed listing skips the pages before its cursor in the chunk
	// it starts with: at most a chunk, and then a page of the next.
	for skipped := 0; ; skipped++ {
		if r.br == nil {
			if ok, err := l.openChunk(ctx, r); !ok || err != nil {
				return nil, false, err
			}
		}
		at, body, err := readEntry(r.br, l.c.maxResponse)
		switch {
		case errors.Is(err, io.EOF):
			r.in.Close()
			r.in, r.br = nil, nil
			continue
		case err != nil:
			r.stop(fmt.Errorf("a spilled page of pass %d is damaged: %w", r.pass, err))
			r.readOn()
			return nil, false, nil
		case at == cur.request():
			r.seek = false
			return body, true, nil
		case r.seek && skipped <= spillChunkPages:
			continue
		}
		// Not the page the Lister would ask for: it reads on itself.
		r.readOn()
		return nil, false, nil
	}
}

// openChunk opens the next chunk of r, waiting for the reader to finalize
// it; ok false means there is none to come (the Lister reads on itself).
func (l *Lister) openChunk(ctx context.Context, r *passReader) (ok bool, err error) {
	for {
		r.mu.Lock()
		n, ended, changed := r.chunks, r.ended, r.changed
		r.mu.Unlock()
		switch {
		case r.read < n:
			in, err := l.spill.Open(ctx, spillChunkName(r.pass, r.read))
			if err != nil {
				if ctx.Err() != nil {
					return false, contextError(ctx.Err(), "reading pages read ahead")
				}
				r.stop(fmt.Errorf("opening a spill of pass %d: %w", r.pass, err))
				r.readOn()
				return false, nil
			}
			r.read++
			r.in, r.br = in, bufio.NewReaderSize(in, 64<<10)
			return true, nil
		case ended:
			r.release()
			return false, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false, contextError(ctx.Err(), "waiting for pages read ahead")
		}
	}
}

// readEntry reads one spilled entry; io.EOF means the chunk ended cleanly
// before it. A body over limit bytes is damage: no answer over the client's
// cap is ever spilled.
func readEntry(br *bufio.Reader, limit int64) (at Cursor, body []byte, err error) {
	c, err := readField(br, maxSpilledCursor)
	if err != nil {
		return at, nil, err
	}
	if body, err = readField(br, limit); err == nil {
		var sum [4]byte
		_, err = io.ReadFull(br, sum[:])
		if err == nil && binary.LittleEndian.Uint32(sum[:]) != entrySum(c, body) {
			err = errors.New("its checksum does not match")
		}
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = json.Unmarshal(c, &at)
	}
	return at, body, err
}

// readField reads one length-prefixed field of a spilled entry.
func readField(br *bufio.Reader, limit int64) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("an entry claims %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}
