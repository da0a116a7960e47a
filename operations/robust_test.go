package operations_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// hooked is a real store with test hooks in front of some calls. A hook
// that returns an error answers instead of the store.
type hooked struct {
	store.Store
	beforeUpdate func(ctx context.Context, rec *operationspb.OperationRecord) error
	beforeGet    func(name string) error
	// afterCreate runs once the record is written; its error is returned
	// as if the write had failed.
	afterCreate func(rec *operationspb.OperationRecord) error
}

// A store across a network fails calls whose context has ended; the local
// one does not look, so the hooks do.

func (h *hooked) Update(ctx context.Context, rec *operationspb.OperationRecord, gen int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, status.FromContextError(err).Err()
	}
	if h.beforeUpdate != nil {
		if err := h.beforeUpdate(ctx, rec); err != nil {
			return 0, err
		}
	}
	return h.Store.Update(ctx, rec, gen)
}

func (h *hooked) Get(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, status.FromContextError(err).Err()
	}
	if h.beforeGet != nil {
		if err := h.beforeGet(name); err != nil {
			return nil, 0, err
		}
	}
	return h.Store.Get(ctx, name)
}

func (h *hooked) Create(ctx context.Context, rec *operationspb.OperationRecord) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, status.FromContextError(err).Err()
	}
	gen, err := h.Store.Create(ctx, rec)
	if err == nil && h.afterCreate != nil {
		err = h.afterCreate(rec)
	}
	return gen, err
}

// clock is a settable clock: leases and ages are decided by it, so tests
// move time instead of waiting for it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recoverOnSecondAttempt runs Recover in m, the next process, and checks
// that it finishes operation name on its second attempt with every
// developer exported and no staging left.
func (e *env) recoverOnSecondAttempt(ctx context.Context, m *operations.Manager, name string) {
	e.t.Helper()
	if err := m.Recover(ctx); err != nil {
		e.t.Fatal(err)
	}
	done, err := m.Wait(ctx, name, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	e.checkResponse(done, len(e.data.Orgs[0].Developers))
	if rec, _ := e.record(name); rec.GetAttempts() != 2 {
		e.t.Fatalf("attempts %d, want 2", rec.GetAttempts())
	}
	if s := e.staging(); len(s) != 0 {
		e.t.Fatalf("staging left: %v", s)
	}
}

var errUnavailable = status.Error(codes.Unavailable, "the store is unavailable (test)")

// TestLeaseRunsOutWhenStoreFails: a runner whose store writes keep failing
// suspends itself while the lease the store holds is still valid, so that
// the process that takes the operation over once the lease lapses never
// runs it at the same time (both would write the same staging parts). The
// reviewer's case: a Parquet export, a 600 ms lease, every Update failing.
func TestLeaseRunsOutWhenStoreFails(t *testing.T) {
	const lease = 600 * time.Millisecond
	tr := newTraffic(t)
	e := newEnv(t, local, slowData, tr.options())
	ctx := context.Background()
	clk := newClock()

	var failing, tooLong atomic.Bool
	failed := make(chan struct{}, 100)
	hs := &hooked{Store: e.store(), beforeUpdate: func(ctx context.Context, _ *operationspb.OperationRecord) error {
		if !failing.Load() {
			return nil
		}
		// A hung write must give up well within the lease. (The remaining
		// time only shrinks while the test runs: this cannot flake.)
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > lease/6 {
			tooLong.Store(true)
		}
		select {
		case failed <- struct{}{}:
		default:
		}
		return errUnavailable
	}}
	a := e.manager("a", func(c *operationsConfig) { c.Store, c.LeaseDuration, c.Now = hs, lease, clk.now })
	tr.holdAfter(holdPages)
	op, err := a.Create(ctx, e.request("developers", "parquet"))
	if err != nil {
		t.Fatal(err)
	}
	aDone := make(chan struct{})
	go func() {
		defer close(aDone)
		a.Run(ctx, op.GetName())
	}()
	waitFor(t, "a to run the export", func() bool {
		rec, _ := e.record(op.GetName())
		return rec.GetLeaseHolder() == "a" && tr.pages() > holdPages
	})
	stored, _ := e.record(op.GetName())
	leaseUntil := stored.GetLeaseExpires().AsTime()

	// From now on no write reaches the store. A third of the lease later a
	// renewal is due, and fails; the export goes on, the stored lease has
	// time left.
	failing.Store(true)
	clk.add(lease / 3)
	<-failed
	// With 400 ms of the 600 ms lease gone, less than a write timeout and
	// a renewal period remain: a must stop, now, however often it retried.
	clk.add(lease / 3)
	for len(failed) > 0 {
		<-failed
	}
	for n := 0; ; {
		select {
		case <-aDone:
		case <-failed:
			if n++; n > 10 {
				t.Fatalf("a failed %d more writes and still runs the export: it would outlive its lease", n)
			}
			continue
		}
		break
	}
	if tooLong.Load() {
		t.Errorf("a record write was allowed more than lease/6 (%v)", lease/6)
	}
	rec, _ := e.record(op.GetName())
	if rec.GetLeaseHolder() != "a" || !rec.GetLeaseExpires().AsTime().Equal(leaseUntil) {
		t.Fatalf("record after the failures: holder %q until %v, want a until %v", rec.GetLeaseHolder(), rec.GetLeaseExpires().AsTime(), leaseUntil)
	}

	// Once the stored lease lapses, another process takes over; a has
	// stopped already (aDone), so nothing runs twice.
	clk.add(300 * time.Millisecond)
	tr.open()
	b := e.manager("b", func(c *operationsConfig) { c.LeaseDuration, c.Now = lease, clk.now })
	e.recoverOnSecondAttempt(ctx, b, op.GetName())
}

// TestRecoverRestartsSuspendedWithoutCheckpoint: Close suspends an export
// before its first checkpoint; Recover in the next process starts it over
// (rather than aborting it) and it finishes.
func TestRecoverRestartsSuspendedWithoutCheckpoint(t *testing.T) {
	tr := newTraffic(t)
	e := newEnv(t, local, slowData, tr.options())
	ctx := context.Background()
	a := e.manager("a")
	tr.holdAfter(1) // checkpoints come every 2 pages: none
	op, err := a.Start(ctx, e.request("developers", "json"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second page to be asked for", func() bool { return tr.pages() > 1 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	rec, _ := e.record(op.GetName())
	if rec.GetLeaseHolder() != "" || len(rec.GetCheckpoint()) != 0 {
		t.Fatalf("after Close: holder %q, checkpoint %q", rec.GetLeaseHolder(), rec.GetCheckpoint())
	}
	tr.open()
	b := e.manager("b")
	e.recoverOnSecondAttempt(ctx, b, op.GetName())
}

// damage writes a record that cannot be read into a local store.
func (e *env) damage(name string) {
	e.t.Helper()
	p := filepath.Join(e.localStore, filepath.FromSlash(name)+".json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("{this is not json"), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// Sorted before any operation created now: listed first.
const damagedName = "organizations/acme/operations/0190c1f4-7a1b-7c3d-8e4f-00000000bad0"

// TestRecoverSkipsUnreadable: a damaged record and one whose read fails do
// not keep Recover from the others; its error names both, and the log says
// what was skipped.
func TestRecoverSkipsUnreadable(t *testing.T) {
	e := newEnv(t, local, small, emulator.Options{})
	ctx := context.Background()
	var flaky atomic.Value
	flaky.Store("")
	hs := &hooked{Store: e.store(), beforeGet: func(name string) error {
		if name == flaky.Load() {
			return errUnavailable
		}
		return nil
	}}
	var log exporttest.Buffer
	m := e.manager("m", func(c *operationsConfig) {
		c.Store, c.Logger = hs, slog.New(slog.NewTextHandler(&log, nil))
	})
	e.damage(damagedName)
	good, err := m.Create(ctx, e.request("apps", "json"))
	if err != nil {
		t.Fatal(err)
	}
	e.leaveFor(good.GetName(), "dead-host", time.Now().Add(-time.Second))
	bad, err := m.Create(ctx, e.request("apps", "ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	flaky.Store(bad.GetName())

	err = m.Recover(ctx)
	if err == nil || !strings.Contains(err.Error(), damagedName) || !strings.Contains(err.Error(), bad.GetName()) {
		t.Fatalf("Recover: %v; want an error naming %s and %s", err, damagedName, bad.GetName())
	}
	for _, name := range []string{damagedName, bad.GetName()} {
		if !strings.Contains(log.String(), name) {
			t.Errorf("the log does not mention the skipped %s:\n%s", name, log.String())
		}
	}
	done, err := m.Wait(ctx, good.GetName(), 0)
	if err != nil {
		t.Fatal(err)
	}
	e.checkResponse(done, len(e.data.Orgs[0].Apps))
}

// TestListSkipsUnreadable: List answers with the records it can read,
// skipping a damaged one and one whose read fails; only when the store
// fails for every record does List fail.
func TestListSkipsUnreadable(t *testing.T) {
	e := newEnv(t, local, small, emulator.Options{})
	ctx := context.Background()
	var flaky atomic.Value
	flaky.Store("")
	hs := &hooked{Store: e.store(), beforeGet: func(name string) error {
		if f := flaky.Load(); f == "*" || f == name {
			return errUnavailable
		}
		return nil
	}}
	var log exporttest.Buffer
	m := e.manager("m", func(c *operationsConfig) {
		c.Store, c.Logger = hs, slog.New(slog.NewTextHandler(&log, nil))
	})
	e.damage(damagedName)
	var names []string
	for _, f := range []string{"json", "csv", "ndjson"} {
		op, err := m.Create(ctx, e.request("apps", f))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, op.GetName())
	}
	flaky.Store(names[1])
	ops, next, err := m.List(ctx, "organizations/acme", "", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || next != "" || ops[0].GetName() != names[2] || ops[1].GetName() != names[0] {
		t.Fatalf("List = %v, %q; want %s and %s", ops, next, names[2], names[0])
	}
	if !strings.Contains(log.String(), damagedName) || !strings.Contains(log.String(), names[1]) {
		t.Errorf("the log does not mention the skipped records:\n%s", log.String())
	}
	// The store fails for every record: an error, not an empty page.
	flaky.Store("*")
	_, _, err = m.List(ctx, "organizations/acme", "", 0, "")
	wantCode(t, err, codes.Unavailable)
}

// TestStartSurvivesHangUp: a client that hangs up once the record is
// written does not leave it half started: the export runs and finishes.
func TestStartSurvivesHangUp(t *testing.T) {
	e := newEnv(t, local, small, emulator.Options{})
	ctx, hangUp := context.WithCancel(context.Background())
	hs := &hooked{Store: e.store(), afterCreate: func(*operationspb.OperationRecord) error {
		hangUp()
		return nil
	}}
	m := e.manager("m", func(c *operationsConfig) { c.Store = hs })
	op, err := m.Start(ctx, e.request("apiproducts", "csv"))
	if err != nil {
		t.Fatalf("Start after the client hung up: %v", err)
	}
	done, err := m.Wait(context.Background(), op.GetName(), 0)
	if err != nil {
		t.Fatal(err)
	}
	e.checkResponse(done, len(e.data.Orgs[0].APIProducts))
}

// TestClosedWritesNothing: after Close, Start and Create answer
// UNAVAILABLE before writing a record nobody would run.
func TestClosedWritesNothing(t *testing.T) {
	e := newEnv(t, local, small, emulator.Options{})
	ctx := context.Background()
	m := e.manager("m")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	req := e.request("apps", "json")
	_, err := m.Start(ctx, req)
	wantCode(t, err, codes.Unavailable, "shutting down")
	_, err = m.Create(ctx, req)
	wantCode(t, err, codes.Unavailable, "shutting down")
	names, err := e.store().List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		t.Fatalf("a closed manager wrote %v", names)
	}
}

// TestCreateLostResponse: the store wrote the record but answered
// ALREADY_EXISTS (a retried create whose first answer was lost): the
// record is this request's, so Start goes on. A record of another request
// under the name is not taken for ours.
func TestCreateLostResponse(t *testing.T) {
	e := newEnv(t, local, small, emulator.Options{})
	ctx := context.Background()
	s := e.store()
	var other atomic.Bool
	hs := &hooked{Store: s, afterCreate: func(rec *operationspb.OperationRecord) error {
		name, _ := store.RecordName(rec)
		if other.Load() {
			// Someone else's record under the name.
			r, gen, err := s.Get(ctx, name)
			if err != nil {
				return err
			}
			r.Request.Format = "ndjson"
			if _, err := s.Update(ctx, r, gen); err != nil {
				return err
			}
		}
		return status.Errorf(codes.AlreadyExists, "operation %s already exists", name)
	}}
	m := e.manager("m", func(c *operationsConfig) { c.Store = hs })
	req := e.request("apiproducts", "json")
	req.RequestId = "retry-1"
	op, err := m.Start(ctx, req)
	if err != nil {
		t.Fatalf("Start after a lost create answer: %v", err)
	}
	done, err := m.Wait(ctx, op.GetName(), 0)
	if err != nil {
		t.Fatal(err)
	}
	e.checkResponse(done, len(e.data.Orgs[0].APIProducts))

	other.Store(true)
	_, err = m.Create(ctx, e.request("apiproducts", "json"))
	wantCode(t, err, codes.AlreadyExists)
}

// TestRecoverAdoptsOrphans: a NOT_STARTED operation nobody leases is left
// for its runner at first, and started by Recover once it has waited
// NotStartedTimeout (its creator died before starting it).
func TestRecoverAdoptsOrphans(t *testing.T) {
	e := newEnv(t, local, small, emulator.Options{})
	ctx := context.Background()
	clk := newClock()
	m := e.manager("m", func(c *operationsConfig) { c.Now = clk.now })
	op, err := m.Create(ctx, e.request("apiproducts", "ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	clk.add(59 * time.Minute)
	if err := m.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, op.GetName()); metadataOf(t, got).GetState() != apigeepb.OperationMetadata_NOT_STARTED {
		t.Fatalf("Recover started an operation waiting for its job: %v", got)
	}
	never := e.manager("never", func(c *operationsConfig) { c.Now, c.NotStartedTimeout = clk.now, -1 })
	clk.add(2 * time.Minute)
	if err := never.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, op.GetName()); metadataOf(t, got).GetState() != apigeepb.OperationMetadata_NOT_STARTED {
		t.Fatalf("Recover with a negative NotStartedTimeout started an orphan: %v", got)
	}
	if err := m.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, op.GetName()); metadataOf(t, got).GetState() == apigeepb.OperationMetadata_NOT_STARTED {
		t.Fatalf("Recover left an orphan an hour old: %v", got)
	}
	done, err := m.Wait(ctx, op.GetName(), 0)
	if err != nil {
		t.Fatal(err)
	}
	e.checkResponse(done, len(e.data.Orgs[0].APIProducts))
}

// TestCancelDeadRunnerCleansStaging: cancelling an operation whose runner
// died before its first checkpoint removes the parts it left.
func TestCancelDeadRunnerCleansStaging(t *testing.T) {
	e := newEnv(t, local, small, emulator.Options{})
	ctx := context.Background()
	m := e.manager("m")
	op, err := m.Create(ctx, e.request("apps", "json"))
	if err != nil {
		t.Fatal(err)
	}
	e.leaveFor(op.GetName(), "dead-host", time.Now().Add(-time.Second))
	_, id, _ := store.SplitName(op.GetName())
	w, err := e.bucket().NewWriter(ctx, export.StagingPrefix+id+"/object-0000-part-00000", sink.Attrs{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(`[{"appId":"left-over"}`))
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(e.staging()) == 0 {
		t.Fatal("no staging to clean: the test proves nothing")
	}
	if err := m.Cancel(ctx, op.GetName()); err != nil {
		t.Fatal(err)
	}
	got, _ := m.Get(ctx, op.GetName())
	wantCancelled(t, got)
	if s := e.staging(); len(s) != 0 {
		t.Fatalf("staging left after cancel: %v", s)
	}
}

// askedDone is a context that reports when Done is first called: Cancel
// calls it as it starts waiting for the job.
type askedDone struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

func (c *askedDone) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.Context.Done()
}

// TestCancelRacingSuspend: a Cancel that arrives while the export is
// being suspended (here: Run's context ended) still ends it CANCELLED and
// removes its staging, rather than answering OK and leaving it suspended.
func TestCancelRacingSuspend(t *testing.T) {
	tr := newTraffic(t)
	e := newEnv(t, local, slowData, tr.options())
	ctx := context.Background()
	var gate atomic.Bool
	var enterOnce sync.Once
	entered, release := make(chan struct{}), make(chan struct{})
	hs := &hooked{Store: e.store(), beforeUpdate: func(_ context.Context, rec *operationspb.OperationRecord) error {
		if gate.Load() && rec.GetLeaseHolder() == "" {
			enterOnce.Do(func() { close(entered) })
			<-release
		}
		return nil
	}}
	m := e.manager("m", func(c *operationsConfig) { c.Store = hs })
	tr.holdAfter(holdPages)
	op, err := m.Create(ctx, e.request("developers", "csv"))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		m.Run(runCtx, op.GetName())
	}()
	e.hasCheckpoint(op.GetName())

	// Suspend, and hold the suspended state's write until Cancel waits.
	gate.Store(true)
	stopRun()
	<-entered
	cctx := &askedDone{Context: ctx, asked: make(chan struct{})}
	cancelled := make(chan error, 1)
	go func() { cancelled <- m.Cancel(cctx, op.GetName()) }()
	<-cctx.asked
	close(release)
	if err := <-cancelled; err != nil {
		t.Fatal(err)
	}
	<-ran
	e.cancelledClean(ctx, m, op.GetName())
	if rec, _ := e.record(op.GetName()); rec.GetLeaseHolder() != "" || len(rec.GetCheckpoint()) != 0 {
		t.Fatalf("cancelled record keeps lease %q or checkpoint", rec.GetLeaseHolder())
	}
}
