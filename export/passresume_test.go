package export_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
	"pubexport/formats"
)

// The apps passes in the listing's order, by status and keyStatus.
var passOrder = [...][2]string{{"approved", "approved"}, {"approved", "revoked"}, {"revoked", "approved"}, {"revoked", "revoked"}}

// page is one apps page request: its pass and page token.
type page struct {
	pass  int
	token string
}

// passEnv is the parallel env with pages of 5 apps, so that the later apps
// passes span several spill chunks, and a hold: while on, the requests of
// passes 2 and 3 after their first heldAfter pages wait until the run that
// made them ends, so that those passes are only partly spilled when the
// run is suspended.
type passEnv struct {
	*parallelEnv
	mu   sync.Mutex
	hold bool
	seen map[int]int // page requests per pass while holding
}

const (
	passPageSize = 5
	heldAfter    = 5 // one chunk of 4 pages sealed, one page in the next
)

func newPassEnv(t *testing.T) *passEnv {
	t.Helper()
	e := &passEnv{}
	e.parallelEnv = newParallelEnv(t, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		p, ok := pageOf(r.URL.RawQuery)
		if !ok || p.pass < 2 {
			return false
		}
		e.mu.Lock()
		held := false
		if e.hold {
			e.seen[p.pass]++
			held = e.seen[p.pass] > heldAfter
		}
		e.mu.Unlock()
		if !held {
			return false
		}
		select { // until the client gives up on it; bounded all the same
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":503,"message":"held","status":"UNAVAILABLE"}}`))
		return true
	}})
	c, err := apigee.NewClient(context.Background(), apigee.WithBaseURL(e.emu.URL), apigee.WithoutAuthentication(),
		apigee.WithPageSize(passPageSize), apigee.WithRetry(4, time.Millisecond, 10*time.Millisecond), apigee.WithRateLimit(0))
	if err != nil {
		t.Fatal(err)
	}
	e.src = export.FromClient(c)
	return e
}

func (e *passEnv) holding(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hold, e.seen = on, map[int]int{}
}

// pageOf reads an apps list request's query: ok false for the one-app
// probes that ask a pass only for its total.
func pageOf(rawQuery string) (page, bool) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil || q.Get("pageSize") == "1" {
		return page{}, false
	}
	for i, p := range passOrder {
		if q.Get("status") == p[0] && q.Get("keyStatus") == p[1] {
			return page{i, q.Get("pageToken")}, true
		}
	}
	return page{}, false
}

// pages counts the page requests in a request log.
func pages(log []string) map[page]int {
	n := map[page]int{}
	for _, raw := range log {
		if p, ok := pageOf(raw); ok {
			n[p]++
		}
	}
	return n
}

// inOrder lists each pass's pages in the order a sequential run asked for
// them.
func inOrder(log []string) [len(passOrder)][]page {
	var out [len(passOrder)][]page
	for _, raw := range log {
		if p, ok := pageOf(raw); ok {
			out[p.pass] = append(out[p.pass], p)
		}
	}
	return out
}

// interrupt runs spec with the passes read at once and suspends it at the
// first checkpoint taken while the listing reads pass 1 from the spill,
// past its first two chunks, and passes 2 and 3 each have a chunk spilled,
// pass 2 only part of its pages (the hold), and returns that checkpoint.
func (e *passEnv) interrupt(t *testing.T, b sink.Bucket, spec export.Spec) *export.Checkpoint {
	t.Helper()
	e.holding(true)
	defer e.holding(false)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var last *export.Checkpoint
	_, err := e.run(ctx, b, spec, func(r *export.Runner) {
		r.CheckpointEvery = 2
		r.StagingID = "op-1"
		r.OnCheckpoint = func(_ context.Context, cp *export.Checkpoint) error {
			if cp.Cursor.Status != "approved" || cp.Cursor.KeyStatus != "revoked" || cp.Cursor.PageToken == "" {
				return nil
			}
			s := spilledByPass(cp)
			if s[1] != nil && s[1].Read >= 2 && s[2] != nil && s[2].Next != "" && s[3] != nil {
				last = cp
				cancel(export.ErrSuspend)
			}
			return nil
		}
	})
	if status.Code(err) != codes.Aborted || last == nil {
		t.Fatalf("run returned %v, want ABORTED at a checkpoint in pass 1 with passes 2 and 3 partly spilled", err)
	}
	return last
}

func spilledByPass(cp *export.Checkpoint) (s [len(passOrder)]*apigee.SpilledPass) {
	if cp.Spilled == nil {
		return s
	}
	for i := range cp.Spilled.Passes {
		p := &cp.Spilled.Passes[i]
		if p.Pass >= 0 && p.Pass < len(s) {
			s[p.Pass] = p
		}
	}
	return s
}

// spilledPages are the pages in the chunks a checkpoint names, by the
// order of a sequential run: chunks hold spillChunkPages pages, the last
// of a pass fewer when the pass ended there.
func spilledPages(cp *export.Checkpoint, order [len(passOrder)][]page) []page {
	const chunkPages = 4
	var out []page
	for _, p := range spilledByPass(cp) {
		if p != nil {
			out = append(out, order[p.Pass][:min(p.Chunks*chunkPages, len(order[p.Pass]))]...)
		}
	}
	return out
}

// cursorPage is the index in pass 1 of the page at cp's cursor.
func cursorPage(t *testing.T, cp *export.Checkpoint, order [len(passOrder)][]page) int {
	t.Helper()
	for i, p := range order[1] {
		if p.token == cp.Cursor.PageToken {
			return i
		}
	}
	t.Fatalf("the checkpoint's page token %q is not one of pass 1's", cp.Cursor.PageToken)
	return 0
}

// sameExport fails t unless b's export res is a's clean one byte for
// byte: the object's name (its SHA-256), size, CRC32C and bytes, and the
// manifest but for its times and where it lives.
func sameExport(t *testing.T, cleanB sink.Bucket, clean *export.Result, b sink.Bucket, res *export.Result) {
	t.Helper()
	if len(res.Objects) != len(clean.Objects) {
		t.Fatalf("%d objects, a clean run %d", len(res.Objects), len(clean.Objects))
	}
	for i, o := range res.Objects {
		c := clean.Objects[i]
		if o.Name != c.Name || o.Size != c.Size || o.CRC32C != c.CRC32C || o.Records != c.Records {
			t.Fatalf("object %d: %s (%d bytes, CRC32C %08x, %d records), a clean run %s (%d, %08x, %d)", i, o.Name, o.Size, o.CRC32C, o.Records, c.Name, c.Size, c.CRC32C, c.Records)
		}
		if got, want := read(t, b, o.Name), read(t, cleanB, c.Name); string(got) != string(want) {
			t.Fatalf("object %s: the bytes differ", o.Name)
		}
	}
	got, want := manifestOf(t, b, res), manifestOf(t, cleanB, clean)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("manifest %+v\na clean run's %+v", got, want)
	}
}

func read(t *testing.T, b sink.Bucket, name string) []byte {
	t.Helper()
	r, err := b.NewReader(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func manifestOf(t *testing.T, b sink.Bucket, res *export.Result) export.Manifest {
	t.Helper()
	var m export.Manifest
	if err := json.Unmarshal(read(t, b, res.Manifest.Name), &m); err != nil {
		t.Fatal(err)
	}
	m.StartTime, m.EndTime = time.Time{}, time.Time{}
	for i := range m.Objects {
		m.Objects[i].URI, m.Objects[i].Existed = "", false
	}
	if m.BigQuerySchema != nil {
		m.BigQuerySchema.URI, m.BigQuerySchema.Existed = "", false
	}
	return m
}

// resumeFrom runs spec resumed from cp with the passes read at once and
// returns its result and the pages it asked Apigee for.
func (e *passEnv) resumeFrom(t *testing.T, b sink.Bucket, spec export.Spec, cp *export.Checkpoint) (*export.Result, map[page]int) {
	t.Helper()
	e.reset()
	res, err := e.run(context.Background(), b, spec, func(r *export.Runner) {
		r.CheckpointEvery = 2
		r.StagingID = "op-1"
		r.Resume = cp
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, pages(e.reset())
}

// clean runs spec sequentially and returns its result and the pages of
// each pass in the order it asked for them.
func (e *passEnv) clean(t *testing.T, b sink.Bucket, spec export.Spec) (*export.Result, [len(passOrder)][]page) {
	t.Helper()
	e.reset()
	res, err := e.run(context.Background(), b, spec, func(r *export.Runner) {
		r.CheckpointEvery = 2
		r.MaxParallelRequests = 1
	})
	if err != nil {
		t.Fatal(err)
	}
	order := inOrder(e.reset())
	for i, p := range order {
		if len(p) < heldAfter+1 && i < 3 {
			t.Fatalf("pass %d has %d pages: too few to be partly spilled", i, len(p))
		}
	}
	return res, order
}

// TestParallelPassesResumeReusesSpills: an export suspended while the
// listing reads pass 1 from the spill, with pass 2 partly spilled, and
// resumed from its last checkpoint writes the clean sequential run's
// objects and manifest, in every text format, compressed or not, to a
// folder and to Cloud Storage (CSV compressed only: its header and rows
// resume like the others' records, which JSON shows uncompressed);
// and the resumed run asks Apigee for none of the pages in the spill
// chunks the checkpoint names (pass 1's after the cursor, passes 2 and 3's
// first ones), and for every other page once: each later pass goes on from
// its own cursor.
func TestParallelPassesResumeReusesSpills(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newPassEnv(t)
	srv := gcstest.Start(t, "exports")
	for _, c := range []struct {
		f   formats.Format
		z   string
		gcs bool
	}{{formats.JSON, "", false}, {formats.NDJSON, "gzip", false}, {formats.CSV, "gzip", false}, {formats.NDJSON, "", true}, {formats.JSON, "gzip", true}} {
		name := string(c.f) + c.z
		if c.gcs {
			name += "-gcs"
		}
		t.Run(name, func(t *testing.T) {
			cleanDir := t.TempDir()
			cleanB := openLocal(t, cleanDir)
			spec := e.spec(apigee.Apps, c.f, "file://"+cleanDir)
			spec.Compression = formats.Compression(c.z)
			clean, order := e.clean(t, cleanB, spec)

			dir := t.TempDir()
			spec.Destination = "file://" + dir
			b := openLocal(t, dir)
			if c.gcs {
				spec.Destination = "gs://exports/" + name
				b = openGCS(t, srv, spec.Destination)
			}
			cp := e.interrupt(t, b, spec)
			res, asked := e.resumeFrom(t, b, spec, cp)
			sameExport(t, cleanB, clean, b, res)
			if c.gcs {
				if left := objects(t, srv, "exports", name+"/"+export.StagingPrefix); len(left) != 0 {
					t.Fatalf("staging left behind: %v", left)
				}
			} else {
				resumedLikeClean(t, res, clean, dir)
			}

			spilled := spilledPages(cp, order)
			for _, p := range spilled {
				if asked[p] != 0 {
					t.Errorf("pass %d page %q was in a spill chunk the checkpoint names, and the resumed run asked for it %d times", p.pass, p.token, asked[p])
				}
			}
			for p, n := range asked {
				if n != 1 {
					t.Errorf("the resumed run asked for pass %d page %q %d times", p.pass, p.token, n)
				}
			}
			s := spilledByPass(cp)
			// Pass 2 went on from its token: its pages after the chunks
			// were asked for, those before were not (checked above).
			rest := order[2][s[2].Chunks*4:]
			for _, p := range rest {
				if asked[p] != 1 {
					t.Errorf("pass 2 page %q after the spilled chunks was asked for %d times, want 1", p.token, asked[p])
				}
			}
			t.Logf("checkpoint at pass 1 page %d (%d pages): %+v; %d spilled pages reused, %d pages asked for by the resumed run", cursorPage(t, cp, order), len(order[1]), cp.Spilled.Passes, len(spilled), len(asked))
		})
	}
}

// TestParallelPassesResumeDamagedSpills: spill chunks that a checkpoint
// names but that are missing, cut short or damaged when the run resumes are
// not used: the export falls back to asking Apigee and still writes the
// clean run's object and manifest.
func TestParallelPassesResumeDamagedSpills(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newPassEnv(t)
	cleanDir := t.TempDir()
	cleanB := openLocal(t, cleanDir)
	spec := e.spec(apigee.Apps, formats.NDJSON, "file://"+cleanDir)
	spec.Compression = formats.Gzip
	clean, order := e.clean(t, cleanB, spec)
	chunk := func(dir string, pass, n int) string {
		return filepath.Join(dir, export.StagingPrefix, "op-1", fmt.Sprintf("spill-apps-pass-%d-chunk-%05d", pass, n))
	}
	for _, c := range []struct {
		name string
		harm func(t *testing.T, dir string, cp *export.Checkpoint)
		// refetched is a page the resumed run must ask for again.
		refetched func(cp *export.Checkpoint) page
	}{
		{"missing", func(t *testing.T, dir string, cp *export.Checkpoint) {
			if err := os.Remove(chunk(dir, 2, 0)); err != nil {
				t.Fatal(err)
			}
		}, func(*export.Checkpoint) page { return order[2][0] }},
		{"cut short", func(t *testing.T, dir string, cp *export.Checkpoint) {
			p := chunk(dir, 3, 0)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()-10); err != nil {
				t.Fatal(err)
			}
		}, func(*export.Checkpoint) page { return order[3][0] }},
		{"damaged", func(t *testing.T, dir string, cp *export.Checkpoint) {
			// The chunk that holds the page at the cursor: same size, one
			// byte changed near its end, in its last page's body.
			p := chunk(dir, 1, cursorPage(t, cp, order)/4)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)-20] ^= 0x01
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, func(cp *export.Checkpoint) page {
			// The last page of that chunk.
			return order[1][min((cursorPage(t, cp, order)/4+1)*4, len(order[1]))-1]
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			b := openLocal(t, dir)
			spec.Destination = "file://" + dir
			cp := e.interrupt(t, b, spec)
			c.harm(t, dir, cp)
			res, asked := e.resumeFrom(t, b, spec, cp)
			sameExport(t, cleanB, clean, b, res)
			resumedLikeClean(t, res, clean, dir)
			for p, n := range asked {
				if n != 1 {
					t.Errorf("the resumed run asked for pass %d page %q %d times", p.pass, p.token, n)
				}
			}
			if p := c.refetched(cp); asked[p] != 1 {
				t.Fatalf("pass %d page %q, in the harmed chunk, was asked for %d times, want 1: the spill was trusted", p.pass, p.token, asked[p])
			}
		})
	}
}

// TestResumeCheckpointVersions: a version 3 checkpoint (before spills were
// recorded) is resumed, reading the later passes again, and gives the
// clean run's object; versions before 3 and after this pubexport's are
// refused with FAILED_PRECONDITION before anything is asked or written.
func TestResumeCheckpointVersions(t *testing.T) {
	e := newPassEnv(t)
	cleanDir := t.TempDir()
	cleanB := openLocal(t, cleanDir)
	spec := e.spec(apigee.Apps, formats.JSON, "file://"+cleanDir)
	clean, order := e.clean(t, cleanB, spec)

	dir := t.TempDir()
	b := openLocal(t, dir)
	spec.Destination = "file://" + dir
	cp := e.interrupt(t, b, spec)
	before := files(t, dir)
	for _, v := range []int{2, 5} {
		old := *cp
		old.Version = v
		e.reset()
		_, err := e.run(context.Background(), b, spec, func(r *export.Runner) {
			r.StagingID = "op-1"
			r.Resume = &old
		})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "version") {
			t.Fatalf("version %d: got %v, want FAILED_PRECONDITION naming the version", v, err)
		}
		if n := len(e.reset()); n != 0 {
			t.Fatalf("version %d: %d apps requests", v, n)
		}
		if after := files(t, dir); !reflect.DeepEqual(after, before) {
			t.Fatalf("version %d: the folder changed from %v to %v", v, before, after)
		}
	}
	v3 := *cp
	v3.Version, v3.Spilled = 3, nil
	res, asked := e.resumeFrom(t, b, spec, &v3)
	sameExport(t, cleanB, clean, b, res)
	resumedLikeClean(t, res, clean, dir)
	if p := order[2][0]; asked[p] != 1 {
		t.Fatalf("a version 3 resume asked for the first page of pass 2 %d times, want 1 (read again)", asked[p])
	}
}

// TestParallelPassesResumeTwice: a resumed run's readers number their
// chunks on from the ones they reuse, and its checkpoints name both, so
// that a run suspended again, inside pass 2 whose chunks the two runs
// spilled, resumes again to the clean run's object; neither resumed run
// asks for a page twice, nor for one that a checkpoint it resumed from
// names as spilled.
func TestParallelPassesResumeTwice(t *testing.T) {
	e := newPassEnv(t)
	cleanDir := t.TempDir()
	cleanB := openLocal(t, cleanDir)
	spec := e.spec(apigee.Apps, formats.NDJSON, "file://"+cleanDir)
	clean, order := e.clean(t, cleanB, spec)

	dir := t.TempDir()
	b := openLocal(t, dir)
	spec.Destination = "file://" + dir
	first := e.interrupt(t, b, spec)

	e.reset()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var second *export.Checkpoint
	_, err := e.run(ctx, b, spec, func(r *export.Runner) {
		r.CheckpointEvery = 2
		r.StagingID = "op-1"
		r.Resume = first
		r.OnCheckpoint = func(_ context.Context, cp *export.Checkpoint) error {
			if s := spilledByPass(cp); second == nil && cp.Cursor.Status == "revoked" && cp.Cursor.KeyStatus == "approved" && s[2] != nil && s[2].Read >= 2 {
				second = cp
				cancel(export.ErrSuspend)
			}
			return nil
		}
	})
	if status.Code(err) != codes.Aborted || second == nil {
		t.Fatalf("the resumed run returned %v, want ABORTED at a checkpoint in pass 2 past its first two chunks", err)
	}
	asked := pages(e.reset())
	if s := spilledByPass(second)[2]; s.Chunks <= spilledByPass(first)[2].Chunks || s.Bytes <= spilledByPass(first)[2].Bytes {
		t.Fatalf("pass 2 after the first resume: %+v, before it %+v: the chunks did not add up", s, spilledByPass(first)[2])
	}
	res, again := e.resumeFrom(t, b, spec, second)
	sameExport(t, cleanB, clean, b, res)
	resumedLikeClean(t, res, clean, dir)
	for run, pages := range []map[page]int{asked, again} {
		for p, n := range pages {
			if n != 1 {
				t.Errorf("resumed run %d asked for pass %d page %q %d times", run+1, p.pass, p.token, n)
			}
		}
	}
	// A page the second run read after its last checkpoint (spilled into a
	// chunk the checkpoint does not name, or still in flight when it was
	// suspended) is asked for again by the third: only what a checkpoint
	// names is kept.
	for _, p := range spilledPages(first, order) {
		if asked[p]+again[p] != 0 {
			t.Errorf("pass %d page %q was spilled by the first run and asked for again", p.pass, p.token)
		}
	}
	for _, p := range spilledPages(second, order) {
		if again[p] != 0 {
			t.Errorf("pass %d page %q was spilled before the second checkpoint and asked for again", p.pass, p.token)
		}
	}
	t.Logf("second checkpoint in pass 2: %+v", second.Spilled.Passes)
}

// TestParallelPassesParquetRestarts: Parquet cannot be continued, so an
// interrupted Parquet export with the passes read at once is run again
// from the start under the same staging id: the spills of the interrupted
// run are removed, not read, and the object is the clean run's.
func TestParallelPassesParquetRestarts(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newPassEnv(t)
	cleanDir := t.TempDir()
	cleanB := openLocal(t, cleanDir)
	spec := e.spec(apigee.Apps, formats.Parquet, "file://"+cleanDir)
	clean, order := e.clean(t, cleanB, spec)

	dir := t.TempDir()
	b := openLocal(t, dir)
	spec.Destination = "file://" + dir
	e.holding(true)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	_, err := e.run(ctx, b, spec, func(r *export.Runner) {
		r.StagingID = "op-1"
		r.OnProgress = func(p export.Progress) {
			if p.Pages >= int64(len(order[0])+3) {
				cancel(export.ErrSuspend)
			}
		}
	})
	e.holding(false)
	if status.Code(err) != codes.Aborted {
		t.Fatalf("run returned %v, want ABORTED", err)
	}
	if !slices.ContainsFunc(files(t, dir), func(s string) bool { return strings.Contains(s, "/spill-apps-pass-2-") }) {
		t.Fatalf("no spill of pass 2 left by the interrupted run: %v", files(t, dir))
	}
	e.reset()
	res, err := e.run(context.Background(), b, spec, func(r *export.Runner) { r.StagingID = "op-1" })
	if err != nil {
		t.Fatal(err)
	}
	sameExport(t, cleanB, clean, b, res)
	resumedLikeClean(t, res, clean, dir)
	if p := order[2][0]; pages(e.reset())[p] != 1 {
		t.Fatalf("the rerun did not read pass 2 again from its start")
	}
}

// TestParallelPassesResumeCancelled: a resumed run that is cancelled
// removes its staging, the spills it reused and the ones it wrote alike.
func TestParallelPassesResumeCancelled(t *testing.T) {
	e := newPassEnv(t)
	dir := t.TempDir()
	b := openLocal(t, dir)
	spec := e.spec(apigee.Apps, formats.CSV, "file://"+dir)
	cp := e.interrupt(t, b, spec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := e.run(ctx, b, spec, func(r *export.Runner) {
		r.CheckpointEvery = 2
		r.StagingID = "op-1"
		r.Resume = cp
		r.OnProgress = func(p export.Progress) {
			if p.Pages >= cp.Pages+3 {
				cancel()
			}
		}
	})
	if status.Code(err) != codes.Canceled {
		t.Fatalf("got %v, want CANCELLED", err)
	}
	if f := files(t, dir); len(f) != 0 {
		t.Fatalf("left behind: %v", f)
	}
}
