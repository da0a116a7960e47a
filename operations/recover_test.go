package operations_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/operations"
	"pubexport/operations/operationspb"
)

// traffic counts the emulator's developer list requests (how much of an
// export a run fetched) and can hold them: a held export stops after a
// known page, without timing assumptions, until released or cancelled.
type traffic struct {
	mu      sync.Mutex
	n       int64
	limit   int64 // requests past it wait; < 0: none do
	release chan struct{}
}

func newTraffic(t *testing.T) *traffic {
	tr := &traffic{limit: -1}
	t.Cleanup(tr.open)
	return tr
}

func (tr *traffic) options() emulator.Options {
	return emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/developers") {
			return false
		}
		tr.mu.Lock()
		tr.n++
		held, ch := tr.limit >= 0 && tr.n > tr.limit, tr.release
		tr.mu.Unlock()
		if !held {
			return false
		}
		select {
		case <-ch:
			return false
		case <-r.Context().Done():
			return true // the client gave up: nobody reads an answer
		}
	}}
}

// holdAfter lets k more list requests through and holds the rest.
func (tr *traffic) holdAfter(k int64) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.limit, tr.release = tr.n+k, make(chan struct{})
}

// open releases held requests and holds no more.
func (tr *traffic) open() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.limit >= 0 {
		close(tr.release)
	}
	tr.limit = -1
}

// sameAsCleanRun runs req again from the start with m and fails the test
// unless the clean run writes the objects the resumed export wrote (resp)
// and fetches more pages than it did (resumedPages): resuming must give the
// same bytes for less. It returns the clean run's response.
func (tr *traffic) sameAsCleanRun(ctx context.Context, e *env, m *operations.Manager, req *operationspb.ExportRequest, resp *operationspb.ExportResponse, resumedPages int64) *operationspb.ExportResponse {
	e.t.Helper()
	clean, err := m.Create(ctx, req)
	if err != nil {
		e.t.Fatal(err)
	}
	before := tr.pages()
	cleanOp, err := m.Run(ctx, clean.GetName())
	if err != nil {
		e.t.Fatal(err)
	}
	cleanPages := tr.pages() - before
	cleanResp := e.checkResponse(cleanOp, len(e.data.Orgs[0].Developers))
	if got, want := hashes(resp), hashes(cleanResp); strings.Join(got, ",") != strings.Join(want, ",") {
		e.t.Fatalf("the resumed export wrote %v, a clean run %v", got, want)
	}
	if resumedPages >= cleanPages {
		e.t.Fatalf("the resumed run fetched %d pages, a clean run %d: it did not resume", resumedPages, cleanPages)
	}
	return cleanResp
}

func (tr *traffic) pages() int64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.n
}

// holdPages is where held exports stop: past two checkpoints (every 2
// pages), with the fetcher one page ahead.
const holdPages = 5

// TestRecoverResumes: an export suspended by Close whose record then looks
// like its runner died is resumed by Recover in another process, from its
// checkpoint, and writes the same bytes as a clean run.
func TestRecoverResumes(t *testing.T) {
	for _, b := range []backend{local, gcs} {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			tr := newTraffic(t)
			e := newEnv(t, b, slowData, tr.options())
			ctx := context.Background()
			req := e.request("developers", "json")
			req.Compression = "gzip"

			first := e.manager("first")
			tr.holdAfter(holdPages)
			op, err := first.Start(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			e.hasCheckpoint(op.GetName())
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			rec, _ := e.record(op.GetName())
			suspended, _ := first.Get(ctx, op.GetName())
			if suspended.GetDone() || rec.GetLeaseHolder() != "" || len(rec.GetCheckpoint()) == 0 ||
				metadataOf(t, suspended).GetState() != apigeepb.OperationMetadata_IN_PROGRESS {
				t.Fatalf("after Close: done %v, holder %q, checkpoint %d bytes, metadata %v",
					suspended.GetDone(), rec.GetLeaseHolder(), len(rec.GetCheckpoint()), metadataOf(t, suspended))
			}
			if len(e.staging()) == 0 {
				t.Fatal("Close removed the staging a resume needs")
			}
			if _, err := first.Start(ctx, req); grpcstatus.Code(err) != codes.Unavailable {
				t.Fatalf("Start after Close: %v, want UNAVAILABLE", err)
			}
			tr.open()
			// Make it look like a runner that died, not one that let go.
			e.leaveFor(op.GetName(), "dead-runner", time.Now().Add(-time.Minute))
			before := tr.pages()

			rescuer := e.manager("rescuer")
			if err := rescuer.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			done, err := rescuer.Wait(ctx, op.GetName(), 0)
			if err != nil {
				t.Fatal(err)
			}
			resp := e.checkResponse(done, len(e.data.Orgs[0].Developers))
			resumedPages := tr.pages() - before
			rec, _ = e.record(op.GetName())
			if rec.GetAttempts() != 2 || rec.GetLeaseHolder() != "" {
				t.Fatalf("recovered record: attempts %d holder %q", rec.GetAttempts(), rec.GetLeaseHolder())
			}

			cleanResp := tr.sameAsCleanRun(ctx, e, rescuer, req, resp, resumedPages)
			// (The Cloud Storage emulator ignores preconditions on copies, so
			// only a folder reports the object as already there.)
			if b == local && !cleanResp.GetObjects()[0].GetExisted() {
				t.Fatal("the clean run's object did not exist already: the names differ")
			}
			if s := e.staging(); len(s) != 0 {
				t.Fatalf("staging left: %v", s)
			}
		})
	}
}

// TestRecoverDecides: what Recover does with each kind of record.
func TestRecoverDecides(t *testing.T) {
	e := newEnv(t, local, small, emulator.Options{})
	ctx := context.Background()
	m := e.manager("recoverer")
	create := func(resource, format string) string {
		op, err := m.Create(ctx, e.request(resource, format))
		if err != nil {
			t.Fatal(err)
		}
		return op.GetName()
	}
	noCheckpoint := create("developers", "json")
	e.leaveFor(noCheckpoint, "dead-host-1", time.Now().Add(-time.Second))
	parquet := create("apiproducts", "parquet")
	e.leaveFor(parquet, "dead-host-2", time.Now().Add(-time.Second))
	alive := create("apps", "json")
	e.leaveFor(alive, "live-host", time.Now().Add(time.Hour))
	notStarted := create("apps", "ndjson")
	tooMany := create("apps", "csv")
	e.leaveFor(tooMany, "dead-host-3", time.Now().Add(-time.Second))
	e.edit(tooMany, func(rec *operationspb.OperationRecord, _ *longrunningpb.Operation, _ *apigeepb.OperationMetadata) {
		rec.Attempts = 20
		rec.Checkpoint = []byte(`{"version":1}`)
	})
	tooManyNoHolder := create("apps", "json")
	e.leaveFor(tooManyNoHolder, "", time.Time{})
	e.edit(tooManyNoHolder, func(rec *operationspb.OperationRecord, _ *longrunningpb.Operation, _ *apigeepb.OperationMetadata) {
		rec.Attempts = 20
	})

	if err := m.Recover(ctx); err != nil {
		t.Fatal(err)
	}

	// Died before its first checkpoint: starts over and finishes.
	op, err := m.Wait(ctx, noCheckpoint, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.checkResponse(op, len(e.data.Orgs[0].Developers))
	// Parquet starts over and finishes.
	op, err = m.Wait(ctx, parquet, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.checkResponse(op, len(e.data.Orgs[0].APIProducts))
	// Started too often: ABORTED.
	op, _ = m.Get(ctx, tooMany)
	if msg := op.GetError().GetMessage(); !op.GetDone() || op.GetError().GetCode() != int32(codes.Aborted) ||
		!strings.Contains(msg, "20 times") || !strings.Contains(msg, "dead-host-3") || !strings.Contains(msg, "start the export again") {
		t.Fatalf("operation started 20 times: %v", op)
	}
	// The same without a lease holder (suspended, then never resumed): the
	// message names nobody.
	op, _ = m.Get(ctx, tooManyNoHolder)
	if msg := op.GetError().GetMessage(); !op.GetDone() || op.GetError().GetCode() != int32(codes.Aborted) ||
		!strings.Contains(msg, "started 20 times and never finished; start the export again") {
		t.Fatalf("operation started 20 times, no holder: %v", op)
	}
	// A live lease and a never-started operation are left alone.
	rec, _ := e.record(alive)
	if op, _ := m.Get(ctx, alive); op.GetDone() || rec.GetLeaseHolder() != "live-host" {
		t.Fatalf("live operation touched: %v holder %q", op, rec.GetLeaseHolder())
	}
	_, err = m.Run(ctx, alive)
	wantCode(t, err, codes.FailedPrecondition, "live-host")
	if op, _ := m.Get(ctx, notStarted); op.GetDone() || metadataOf(t, op).GetState() != apigeepb.OperationMetadata_NOT_STARTED {
		t.Fatalf("never-started operation touched: %v", op)
	}
}

// TestLeaseLost: when another process takes an operation over, the runner
// stops without writing over it and leaves the staging for the new holder.
func TestLeaseLost(t *testing.T) {
	tr := newTraffic(t)
	e := newEnv(t, local, slowData, tr.options())
	ctx := context.Background()
	m := e.manager("runner", func(c *operationsConfig) { c.LeaseDuration = 300 * time.Millisecond })
	tr.holdAfter(holdPages)
	op, err := m.Start(ctx, e.request("developers", "ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	e.hasCheckpoint(op.GetName())
	e.edit(op.GetName(), func(rec *operationspb.OperationRecord, _ *longrunningpb.Operation, md *apigeepb.OperationMetadata) {
		rec.LeaseHolder = "thief"
		md.Progress.Description = ptr("taken over")
	})
	_, genAfterTheft := e.record(op.GetName())
	// Once the runner has let go, Get answers from the store.
	waitFor(t, "the runner to let go", func() bool {
		got, err := m.Get(ctx, op.GetName())
		return err == nil && metadataOf(t, got).GetProgress().GetDescription() == "taken over"
	})
	rec, gen := e.record(op.GetName())
	if gen != genAfterTheft || rec.GetLeaseHolder() != "thief" {
		t.Fatalf("the runner wrote after losing its lease: generation %d -> %d, holder %q", genAfterTheft, gen, rec.GetLeaseHolder())
	}
	if len(e.staging()) == 0 {
		t.Fatal("the runner removed the staging the new holder needs")
	}
}

func ptr[T any](v T) *T { return &v }
