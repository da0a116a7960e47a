package queue_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/queue"
	"pubexport/operations/store"
)

// harness is a Manager on a local store exporting from an emulator, with
// a gauge of the exports reading from it at once. The exports are of
// developers, which key paging reads one page at a time (apps read their
// status passes at once, several requests per export).
type harness struct {
	m        *operations.Manager
	emu      *emulator.Server
	dir      string
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	block    chan struct{} // while open (non-nil), list requests wait
}

func newHarness(t *testing.T, block bool) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir()}
	if block {
		h.block = make(chan struct{})
	}
	emu := exporttest.Emulator(t, emulator.Sample(), emulator.Options{
		Latency: 5 * time.Millisecond,
		Intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/developers") {
				return false
			}
			n := h.inFlight.Add(1)
			defer h.inFlight.Add(-1)
			for {
				old := h.maxSeen.Load()
				if n <= old || h.maxSeen.CompareAndSwap(old, n) {
					break
				}
			}
			if h.block != nil {
				select {
				case <-h.block:
				case <-r.Context().Done():
				}
			}
			time.Sleep(5 * time.Millisecond) // overlap with the others
			return false
		},
	})
	h.emu = emu
	h.m = h.manager(t, 0)
	return h
}

// manager is a Manager on the harness's store and emulator, as another
// process would have; notStarted is its Config.NotStartedTimeout.
func (h *harness) manager(t *testing.T, notStarted time.Duration) *operations.Manager {
	t.Helper()
	st, err := store.Local(filepath.Join(h.dir, ".ops"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := operations.New(context.Background(), operations.Config{
		Store:             st,
		NotStartedTimeout: notStarted,
		// One Apigee request in flight per export (no apps passes read
		// ahead), so that list requests in flight count exports reading.
		MaxParallelRequests: 1,
		Open: func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
			c, err := apigee.NewClient(ctx, apigee.WithBaseURL(req.GetApigeeUrl()), apigee.WithoutAuthentication(), apigee.WithPageSize(5))
			if err != nil {
				return nil, nil, err
			}
			b, err := sink.Open(ctx, req.GetDestination())
			return export.FromClient(c), b, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (h *harness) req(org string, i int) *operationspb.ExportRequest {
	return &operationspb.ExportRequest{
		Parent:      "organizations/" + org,
		Resource:    "developers",
		Format:      "ndjson",
		Destination: "file://" + filepath.Join(h.dir, "out", fmt.Sprint(i)),
		ApigeeUrl:   h.emu.URL,
	}
}

// metadata: see exporttest.Metadata.
var metadata = exporttest.Metadata

// TestThirtyTriggersBounded: 30 triggers at once run at most MaxRunning
// exports at a time (as the Apigee emulator sees them, and as the store
// shows them IN_PROGRESS); the others wait NOT_STARTED with their place in
// line in the metadata; all 30 end DONE with the same object.
func TestThirtyTriggersBounded(t *testing.T) {
	const bound = 3
	h := newHarness(t, false)
	q := queue.New(h.m, queue.Options{MaxRunning: bound})
	defer h.m.Close()
	defer q.Close()

	// Watch the store for IN_PROGRESS operations while the triggers run.
	stopWatch := make(chan struct{})
	var storeMax atomic.Int64
	var watched sync.WaitGroup
	watched.Go(func() {
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(2 * time.Millisecond):
			}
			ops, _, err := h.m.List(context.Background(), "organizations/acme", "metadata.state=IN_PROGRESS", 100, "")
			if err == nil && int64(len(ops)) > storeMax.Load() {
				storeMax.Store(int64(len(ops)))
			}
		}
	})

	var names []string
	queued := 0
	for i := range 30 {
		op, err := q.Start(t.Context(), h.req("acme", i))
		if err != nil {
			t.Fatalf("trigger %d: %v", i, err)
		}
		names = append(names, op.GetName())
		if md := metadata(t, op); md.GetState() == apigeepb.OperationMetadata_NOT_STARTED {
			queued++
			if d := md.GetProgress().GetDescription(); !strings.HasPrefix(d, "queued: number ") {
				t.Errorf("trigger %d: NOT_STARTED with description %q, want its place in line", i, d)
			}
		}
	}
	if queued == 0 {
		t.Error("no trigger was queued")
	}
	// A poller sees the place in line too.
	if len(names) > 0 {
		n := names[0]
		op, err := q.Get(t.Context(), n)
		if err != nil {
			t.Fatal(err)
		}
		if md := metadata(t, op); md.GetState() == apigeepb.OperationMetadata_NOT_STARTED && !strings.HasPrefix(md.GetProgress().GetDescription(), "queued: number ") {
			t.Errorf("Get %s: NOT_STARTED with description %q", n, md.GetProgress().GetDescription())
		}
	}

	var want string
	for i, n := range names {
		op, err := q.Wait(t.Context(), n, 0)
		for err == nil && !op.GetDone() {
			op, err = q.Wait(t.Context(), n, 0)
		}
		if err != nil {
			t.Fatalf("wait %s: %v", n, err)
		}
		if op.GetError() != nil {
			t.Fatalf("export %d failed: %v", i, op.GetError())
		}
		files, _ := filepath.Glob(filepath.Join(h.dir, "out", fmt.Sprint(i), "ExportFinal_*"))
		if len(files) != 1 {
			t.Fatalf("export %d: objects %v", i, files)
		}
		if want == "" {
			want = filepath.Base(files[0])
		} else if filepath.Base(files[0]) != want {
			t.Errorf("export %d wrote %s, the first %s", i, filepath.Base(files[0]), want)
		}
	}
	close(stopWatch)
	watched.Wait()
	if got := h.maxSeen.Load(); got > bound || got < 2 {
		t.Errorf("Apigee saw %d exports reading at once, want 2..%d", got, bound)
	}
	if got := storeMax.Load(); got > bound {
		t.Errorf("the store showed %d exports IN_PROGRESS at once, want at most %d", got, bound)
	}
	if got := q.Peak(); got > bound {
		t.Errorf("the queue ran %d at once, want at most %d", got, bound)
	}
	t.Logf("peak: queue %d, Apigee %d, store %d; %d of 30 queued", q.Peak(), h.maxSeen.Load(), storeMax.Load(), queued)
}

// TestPerOrganizationLimit: an organization with MaxPerOrganization exports
// running or waiting gets RESOURCE_EXHAUSTED (nothing recorded); another
// organization does not; a cancelled one frees its place.
func TestPerOrganizationLimit(t *testing.T) {
	h := newHarness(t, true)
	q := queue.New(h.m, queue.Options{MaxRunning: 1, MaxPerOrganization: 2})
	defer h.m.Close()
	defer q.Close()
	defer close(h.block)

	first, err := q.Start(t.Context(), h.req("acme", 1))
	if err != nil {
		t.Fatal(err)
	}
	second, err := q.Start(t.Context(), h.req("acme", 2))
	if err != nil {
		t.Fatal(err)
	}
	if md := metadata(t, second); md.GetState() != apigeepb.OperationMetadata_NOT_STARTED {
		t.Fatalf("second trigger: %v, want NOT_STARTED behind the first", md.GetState())
	}
	before, _, _ := h.m.List(t.Context(), "organizations/acme", "", 100, "")
	_, err = q.Start(t.Context(), h.req("acme", 3))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "per-organization limit") {
		t.Fatalf("third acme trigger: %v, want RESOURCE_EXHAUSTED naming the flag", err)
	}
	after, _, _ := h.m.List(t.Context(), "organizations/acme", "", 100, "")
	if len(after) != len(before) {
		t.Errorf("a refused trigger recorded an operation: %d -> %d", len(before), len(after))
	}
	if _, err := q.Start(t.Context(), h.req("globex", 4)); err != nil {
		t.Errorf("another organization's trigger: %v", err)
	}
	if err := q.Cancel(t.Context(), second.GetName()); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Start(t.Context(), h.req("acme", 5)); err != nil {
		t.Errorf("acme trigger after a cancel: %v", err)
	}
	if op, err := q.Get(t.Context(), first.GetName()); err != nil || metadata(t, op).GetState() != apigeepb.OperationMetadata_IN_PROGRESS {
		t.Errorf("first trigger: %v %v, want IN_PROGRESS", op, err)
	}
}

// TestRetriedTriggerAtTheLimit: with its organization at the
// per-organization limit, a retried trigger (same request_id) gets the
// operation it started, running or in line, and records nothing new; a new
// trigger is still RESOURCE_EXHAUSTED.
func TestRetriedTriggerAtTheLimit(t *testing.T) {
	h := newHarness(t, true)
	q := queue.New(h.m, queue.Options{MaxRunning: 1, MaxPerOrganization: 2})
	defer h.m.Close()
	defer q.Close()
	defer close(h.block)

	withID := func(i int, id string) *operationspb.ExportRequest {
		r := h.req("acme", i)
		r.RequestId = id
		return r
	}
	const idRunning, idWaiting = "0b6f3f2e-3a5d-4f0e-9a51-1d7c2e9b8a01", "0b6f3f2e-3a5d-4f0e-9a51-1d7c2e9b8a02"
	running, err := q.Start(t.Context(), withID(1, idRunning))
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := q.Start(t.Context(), withID(2, idWaiting))
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := h.m.List(t.Context(), "organizations/acme", "", 100, "")

	again, err := q.Start(t.Context(), withID(1, idRunning))
	if err != nil || again.GetName() != running.GetName() {
		t.Fatalf("retry of the running trigger: %v, %v; want %s", again.GetName(), err, running.GetName())
	}
	if st := metadata(t, again).GetState(); st != apigeepb.OperationMetadata_IN_PROGRESS {
		t.Errorf("retry of the running trigger: %v, want IN_PROGRESS", st)
	}
	again, err = q.Start(t.Context(), withID(2, idWaiting))
	if err != nil || again.GetName() != waiting.GetName() {
		t.Fatalf("retry of the waiting trigger: %v, %v; want %s", again.GetName(), err, waiting.GetName())
	}
	if desc := metadata(t, again).GetProgress().GetDescription(); !strings.Contains(desc, "number 1 of 1") {
		t.Errorf("retry of the waiting trigger: description %q, want its place in line", desc)
	}
	if _, err := q.Start(t.Context(), withID(3, "0b6f3f2e-3a5d-4f0e-9a51-1d7c2e9b8a03")); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a new trigger at the limit: %v, want RESOURCE_EXHAUSTED", err)
	}
	after, _, _ := h.m.List(t.Context(), "organizations/acme", "", 100, "")
	if len(after) != len(before) {
		t.Errorf("retries at the limit recorded operations: %d -> %d", len(before), len(after))
	}

	// Once the waiting one is cancelled its request_id no longer holds a
	// place: a new trigger with it is let in (and the manager's own
	// request_id claim answers with the cancelled operation).
	if err := q.Cancel(t.Context(), waiting.GetName()); err != nil {
		t.Fatal(err)
	}
	if op, err := q.Start(t.Context(), withID(2, idWaiting)); err != nil || op.GetName() != waiting.GetName() {
		t.Errorf("retry after cancel: %v, %v; want the cancelled %s", op.GetName(), err, waiting.GetName())
	}
}

// TestRecoverWaitsInLine: exports found stranded (here NOT_STARTED ones
// whose creator is presumed dead) are started again through the queue, at
// most MaxRunning at once, the rest waiting their turn; all of them end DONE.
func TestRecoverWaitsInLine(t *testing.T) {
	h := newHarness(t, true)
	defer h.m.Close()
	const stranded, bound = 6, 2
	var names []string
	for i := range stranded {
		op, err := h.m.Create(t.Context(), h.req("acme", i))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, op.GetName())
	}

	// Another process, which presumes any NOT_STARTED export orphaned.
	m2 := h.manager(t, time.Nanosecond)
	defer m2.Close()
	q := queue.New(m2, queue.Options{MaxRunning: bound})
	defer q.Close()
	unblock := sync.OnceFunc(func() { close(h.block) })
	defer unblock()
	if err := q.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The two taken out of line start in the background.
	var running, waiting int
	count := func() bool {
		running, waiting = 0, 0
		for _, name := range names {
			op, err := q.Get(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			md := metadata(t, op)
			switch {
			case md.GetState() == apigeepb.OperationMetadata_IN_PROGRESS:
				running++
			case md.GetState() == apigeepb.OperationMetadata_NOT_STARTED && strings.Contains(md.GetProgress().GetDescription(), "queued"):
				waiting++
			}
		}
		return running == bound && waiting == stranded-bound
	}
	exporttest.Eventually(t, fmt.Sprintf("%d running and %d in line after Recover", bound, stranded-bound), count)
	if running != bound || waiting != stranded-bound {
		t.Fatalf("after Recover: %d running, %d in line; want %d and %d", running, waiting, bound, stranded-bound)
	}
	// A second look finds nothing new to start: those in line stay in line.
	if err := q.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	unblock()
	for _, name := range names {
		op, err := q.Wait(t.Context(), name, time.Minute)
		if err != nil || !op.GetDone() || op.GetError() != nil {
			t.Fatalf("%s: %v %v, want done without error", name, op, err)
		}
	}
	if p := q.Peak(); p > bound {
		t.Errorf("peak %d exports at once, want at most %d", p, bound)
	}
}

// TestPlaceInLineOnACopy: the Manager shares the operations it answers
// with (an unchanged record is decoded once), so the place in line the
// queue shows must go on a copy: the Manager's own answer, and the queue's
// later ones, stay what the record says.
func TestPlaceInLineOnACopy(t *testing.T) {
	h := newHarness(t, true)
	q := queue.New(h.m, queue.Options{MaxRunning: 1})
	defer h.m.Close()
	defer q.Close()
	defer close(h.block)

	if _, err := q.Start(t.Context(), h.req("acme", 1)); err != nil {
		t.Fatal(err)
	}
	second, err := q.Start(t.Context(), h.req("acme", 2))
	if err != nil {
		t.Fatal(err)
	}
	name := second.GetName()
	own, err := h.m.Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	recorded := metadata(t, own).GetProgress().GetDescription()
	if strings.HasPrefix(recorded, "queued: ") {
		t.Fatalf("the record itself says %q", recorded)
	}
	for i := range 3 {
		op, err := q.Get(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if d := metadata(t, op).GetProgress().GetDescription(); d != "queued: number 1 of 1 waiting; this server runs at most 1 exports at once" {
			t.Errorf("queue's Get %d: description %q", i, d)
		}
		if op == own {
			t.Fatalf("queue's Get %d answered with the Manager's own operation", i)
		}
		again, err := h.m.Get(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if d := metadata(t, again).GetProgress().GetDescription(); d != recorded {
			t.Fatalf("after the queue's Get %d the Manager answers %q, want the record's %q", i, d, recorded)
		}
	}
}
