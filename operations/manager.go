package operations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/sink"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// DefaultLeaseDuration is how long a runner's claim on an operation lasts
// without renewal. It is renewed every third of it, so a runner must miss
// two renewals before another process may take over; and a dead runner's
// operation waits at most this long to be recovered.
const DefaultLeaseDuration = 30 * time.Second

// saveEvery bounds how often progress reaches the store: often enough for
// a poller, rarely enough that Cloud Storage's one-write-per-second limit
// per object is respected.
const saveEvery = time.Second

// maxAttempts is how many times Recover starts an operation before it
// gives up on it: an export that kills its process every time (memory, a
// poisoned record) must end instead of looping.
const maxAttempts = 20

// DefaultNotStartedTimeout is how long a NOT_STARTED operation may wait for
// its runner before Recover starts it itself. Create's operations are
// dispatched to a Cloud Run job within seconds; one still waiting after an
// hour was orphaned (its creator died between recording and starting it,
// or the dispatch was lost). The margin is generous so that a slow job
// start is never raced.
const DefaultNotStartedTimeout = time.Hour

// errClosing is the answer of a Manager that has been closed.
var errClosing = status.Error(codes.Unavailable, "the operation manager is shutting down; retry against another instance")

// OpenFunc opens the source and the destination of an export request.
type OpenFunc func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error)

// Config configures a Manager. Store is required.
type Config struct {
	Store store.Store
	// Open opens an export's source and destination; nil means the Apigee
	// API (req.apigee_url or the default, with Application Default
	// Credentials) and sink.Open(req.destination).
	Open OpenFunc
	// ApigeeOptions configure the default Open's Apigee client (a request
	// timeout, say); they come after the request's base URL.
	ApigeeOptions []apigee.Option
	// SinkOptions configure the default Open's destinations (the Cloud
	// Storage client's endpoint, say).
	SinkOptions []sink.Option
	// LeaseDuration is DefaultLeaseDuration when zero.
	LeaseDuration time.Duration
	// Holder names this process in leases; hostname-pid-random when empty.
	// Two managers must never share one.
	Holder string
	// CheckpointEvery is the pages between checkpoints
	// (export.DefaultCheckpointEvery when zero).
	CheckpointEvery int
	// MaxParallelRequests caps the Apigee requests in flight for each
	// export (export.Runner.MaxParallelRequests; its default when zero).
	MaxParallelRequests int
	// SignedURLExpiry is how long the download URLs in a finished export's
	// response stay valid, for destinations that can sign them (Cloud
	// Storage with a service account: a key file, or on Cloud Run the
	// attached account with roles/iam.serviceAccountTokenCreator on
	// itself). Zero means sink.MaxSignedURLExpiry (7 days, the most a V4
	// signature allows); a negative value turns signing off. A URL lets
	// anyone who sees the operation download the objects without access
	// to the bucket, secrets included when the export has them; after it
	// expires, `gcloud storage sign-url` makes another.
	SignedURLExpiry time.Duration
	// NotStartedTimeout is how long a NOT_STARTED operation that nobody
	// leases may wait before Recover starts it in this process
	// (DefaultNotStartedTimeout when zero; negative: never).
	NotStartedTimeout time.Duration
	Logger            *slog.Logger
	Now               func() time.Time

	// Notify, when set, is told about every operation that ends (done,
	// failed or cancelled) by the process that ends it. A notification
	// that fails is a warning on the operation, never a failure.
	Notify Notifier
}

// Manager runs exports as long-running operations and answers for them.
// Operations live in the Store, so managers in several processes (an API
// server, a Cloud Run job, a CLI) share them; each operation is run by at
// most one of them at a time, the holder of its lease.
type Manager struct {
	store  store.Store
	open   OpenFunc
	lease  time.Duration
	holder string
	every  int
	// parallel is Config.MaxParallelRequests.
	parallel int
	log      *slog.Logger
	now      func() time.Time

	notify     Notifier      // nil: nobody to tell
	signExpiry time.Duration // of download URLs; negative: do not sign
	notStarted time.Duration // see Config.NotStartedTimeout; negative: never

	urls apigeeURLs // passwords kept out of records

	answers answers // Get's decoded operations, by name

	mu     sync.Mutex
	jobs   map[string]*job // operations this process runs, by name
	closed bool
	wg     sync.WaitGroup

	// unrecorded holds the operations whose export ended here but whose
	// end the store did not take (see ErrEndNotRecorded), until run again.
	// Guarded by mu.
	unrecorded map[string]error
}

// New returns a Manager. It does not touch the store: call Recover to take
// over operations whose runner died. ctx is not used (New does no I/O); it
// is kept so that the signature need not change if New ever does.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, status.Error(codes.InvalidArgument, "operations: Config.Store is required")
	}
	m := &Manager{
		store:    cfg.Store,
		open:     cfg.Open,
		lease:    cfg.LeaseDuration,
		holder:   cfg.Holder,
		every:    cfg.CheckpointEvery,
		parallel: cfg.MaxParallelRequests,
		log:      cfg.Logger,
		now:      cfg.Now,
		jobs:     map[string]*job{},

		notStarted: cfg.NotStartedTimeout,
		notify:     cfg.Notify,
	}
	if m.open == nil {
		m.open = openDefault(cfg.ApigeeOptions, cfg.SinkOptions)
	}
	m.open = m.urls.opener(m.open)
	if m.lease <= 0 {
		m.lease = DefaultLeaseDuration
	}
	if m.notStarted == 0 {
		m.notStarted = DefaultNotStartedTimeout
	}
	switch m.signExpiry = cfg.SignedURLExpiry; {
	case m.signExpiry == 0:
		m.signExpiry = sink.MaxSignedURLExpiry
	case m.signExpiry > sink.MaxSignedURLExpiry:
		return nil, status.Errorf(codes.InvalidArgument, "operations: Config.SignedURLExpiry %v is longer than %v, the most a V4 signed URL allows; use 0 for the most", cfg.SignedURLExpiry, sink.MaxSignedURLExpiry)
	}
	if m.holder == "" {
		m.holder = defaultHolder()
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m, nil
}

func defaultHolder() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// openDefault opens the real Apigee API, configured by extra, and the
// request's destination, configured by sinkOpts.
func openDefault(extra []apigee.Option, sinkOpts []sink.Option) OpenFunc {
	return func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
		return openWith(ctx, req, extra, sinkOpts)
	}
}

func openWith(ctx context.Context, req *operationspb.ExportRequest, extra []apigee.Option, sinkOpts []sink.Option) (export.Source, sink.Bucket, error) {
	var opts []apigee.Option
	if u := req.GetApigeeUrl(); u != "" {
		opts = append(opts, apigee.WithBaseURL(u))
	}
	opts = append(opts, extra...)
	c, err := apigee.NewClient(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to Apigee: %w", err)
	}
	b, err := sink.Open(ctx, req.GetDestination(), sinkOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the destination: %w", err)
	}
	return export.FromClient(c), b, nil
}

// Create validates req and records a NOT_STARTED operation without running
// it (a Cloud Run job or `pubexport run` will). A request_id already used
// under the same parent returns the operation it started. Validation errors
// are returned before anything is written, and so is UNAVAILABLE once the
// Manager is closed.
func (m *Manager) Create(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	op, _, err := m.create(ctx, req)
	return op, err
}

// create is Create that also says whether the operation is new.
func (m *Manager) create(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, bool, error) {
	if m.isClosed() {
		return nil, false, errClosing // before writing anything nobody would run
	}
	spec, err := Spec(req)
	if err != nil {
		return nil, false, err
	}
	id, err := uuid.NewV7() // time-ordered: names sort oldest first
	if err != nil {
		return nil, false, status.Errorf(codes.Internal, "making an operation id: %v", err)
	}
	name := req.GetParent() + "/operations/" + id.String()
	md := newMetadata(spec)
	any, op, err := pack(&longrunningpb.Operation{Name: name}, md)
	if err != nil {
		return nil, false, err
	}
	now := timestamppb.New(m.now())
	rec := &operationspb.OperationRecord{
		Operation:  any,
		Request:    m.urls.redacted(req),
		CreateTime: now,
		UpdateTime: now,
	}
	// The record comes first and the request_id claim second, so a claim
	// always names a record that exists; the loser of a race removes its
	// own record.
	if _, err := m.store.Create(ctx, rec); err != nil {
		if status.Code(err) != codes.AlreadyExists || !m.ours(ctx, rec) {
			return nil, false, fmt.Errorf("recording operation %s: %w", name, err)
		}
		// The name is fresh, so the record that exists is our own write
		// whose answer was lost and whose retry found it (412).
	}
	rid := req.GetRequestId()
	if rid == "" {
		return op, true, nil
	}
	owner, err := m.store.ClaimRequest(ctx, req.GetParent(), rid, name)
	if err != nil {
		m.forget(ctx, name)
		return nil, false, fmt.Errorf("recording request_id %q: %w", rid, err)
	}
	if owner == name {
		return op, true, nil
	}
	m.forget(ctx, name)
	prev, err := m.Get(ctx, owner)
	if status.Code(err) == codes.NotFound {
		// The earlier operation was deleted but its claim outlived it.
		if err := m.store.ReleaseRequest(ctx, req.GetParent(), rid, owner); err != nil {
			return nil, false, err
		}
		return m.create(ctx, req)
	}
	if err != nil {
		return nil, false, err
	}
	return prev, false, nil
}

// ours reports whether the stored record named like rec is rec as this
// manager wrote it: same request, same creation time.
func (m *Manager) ours(ctx context.Context, rec *operationspb.OperationRecord) bool {
	name, err := store.RecordName(rec)
	if err != nil {
		return false
	}
	got, _, err := m.store.Get(ctx, name)
	if err != nil {
		return false
	}
	return proto.Equal(got.GetRequest(), rec.GetRequest()) && proto.Equal(got.GetCreateTime(), rec.GetCreateTime())
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// forget removes a record that was never shown to anyone.
func (m *Manager) forget(ctx context.Context, name string) {
	if err := m.store.Delete(context.WithoutCancel(ctx), name); err != nil {
		m.log.Warn("could not remove an unused operation record", "operation", name, "error", err)
	}
}

// Start creates the operation and runs it in the background in this
// process; it returns as soon as the operation is IN_PROGRESS. A retried
// request (same request_id) returns the first operation, starting it only
// if nobody ever did. Once the record is written the export starts even if
// ctx ends (the client hung up). A closed Manager answers UNAVAILABLE and
// leaves nothing behind.
func (m *Manager) Start(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	op, fresh, err := m.create(ctx, req)
	if err != nil {
		return nil, err
	}
	if !fresh && op.GetDone() {
		return op, nil
	}
	// The record exists: from here on the caller hanging up must not leave
	// it half started (IN_PROGRESS with our lease and no job).
	ctx = context.WithoutCancel(ctx)
	j, op2, err := m.launch(ctx, op.GetName())
	if fresh && errors.Is(err, errClosing) {
		// Close came in between: take back the record nobody will run, so
		// that a retry elsewhere (same request_id) starts afresh.
		m.forget(ctx, op.GetName())
		if rid := req.GetRequestId(); rid != "" {
			if err := m.store.ReleaseRequest(ctx, req.GetParent(), rid, op.GetName()); err != nil {
				m.log.Warn("could not release a request id", "operation", op.GetName(), "error", err)
			}
		}
		return nil, err
	}
	if !fresh && (status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.Aborted) {
		return m.Get(ctx, op.GetName()) // someone else runs it: fine for a retry
	}
	if err != nil {
		return nil, err
	}
	if j == nil {
		return op2, nil
	}
	return j.snapshot(), nil
}

// Run runs the operation name in this process, or resumes it from its
// checkpoint, and returns when it ends. It is how a Cloud Run job or the
// CLI executes an operation that Create recorded, and how an export whose
// process was killed is continued. If ctx ends first, the export is
// suspended (checkpoint kept, lease released) rather than cancelled: use
// Cancel to give an export up.
func (m *Manager) Run(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	j, op, err := m.launch(ctx, name)
	if err != nil || j == nil {
		return op, err
	}
	stop := context.AfterFunc(ctx, func() {
		j.stop(fmt.Errorf("the caller of Run went away: %w", export.ErrSuspend), false)
	})
	defer stop()
	<-j.done
	return j.snapshot(), m.unrecordedEnd(name)
}

// launch takes the lease of operation name and runs it in the background.
// It returns the job, or no job and the operation when it is already done.
// An operation this process already runs is joined, not started twice.
func (m *Manager) launch(ctx context.Context, name string) (*job, *longrunningpb.Operation, error) {
	if _, _, err := store.SplitName(name); err != nil {
		return nil, nil, err
	}
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, nil, errClosing
		}
		if j := m.jobs[name]; j != nil {
			m.mu.Unlock()
			<-j.started
			if j.acquired {
				return j, nil, nil
			}
			continue // that start failed: try again, and see why
		}
		j := newJob(m, name)
		m.jobs[name] = j
		delete(m.unrecorded, name)
		m.wg.Add(1)
		m.mu.Unlock()

		op, err := j.acquire(ctx)
		if !j.acquired {
			m.mu.Lock()
			delete(m.jobs, name)
			m.mu.Unlock()
			close(j.started)
			close(j.done)
			m.wg.Done()
			return nil, op, err
		}
		close(j.started)
		go func() {
			defer m.wg.Done()
			defer func() {
				m.mu.Lock()
				delete(m.jobs, name)
				m.mu.Unlock()
				close(j.done)
			}()
			j.run()
		}()
		return j, nil, nil
	}
}

// job returns the running job of operation name, if this process runs it.
func (m *Manager) job(name string) *job {
	m.mu.Lock()
	j := m.jobs[name]
	m.mu.Unlock()
	if j == nil {
		return nil
	}
	select {
	case <-j.started:
		if !j.acquired {
			return nil
		}
		return j
	default:
		return nil // still starting: the store has the truth
	}
}

// Get returns the operation: the live state for an export this process
// runs, else the store's (at most about a second behind the runner).
//
// The operation may be shared with other callers and later calls (an
// unchanged record is decoded once, see answers): it must not be changed.
// A caller that wants to change it must proto.Clone it first.
func (m *Manager) Get(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	if _, _, err := store.SplitName(name); err != nil {
		return nil, err
	}
	if j := m.job(name); j != nil {
		return j.snapshot(), nil
	}
	if err := m.unrecordedEnd(name); err != nil {
		return nil, err
	}
	rec, _, err := store.Peek(ctx, m.store, name)
	if err != nil {
		return nil, err
	}
	return m.answers.of(name, rec)
}

// errCancelled is the cause a cancelled export's context carries.
var errCancelled = status.Error(codes.Canceled, "export cancelled by request; its staging objects were removed and nothing was published after the cancellation")

// Cancel stops an export for good: it ends with error CANCELLED and its
// staging objects are removed. It returns once the operation is done (with
// its own result if it finished first). A cancel that meets a suspend (Close,
// the end of Run's context) still ends the operation CANCELLED. For an
// export run by another process the record says so at once, and that
// process stops at its next save: within about a second while the export
// makes progress, at most LeaseDuration/3 when it is stuck. Cancelling a
// done operation is a no-op that succeeds, so a retried Cancel is safe
// (google.longrunning leaves this open; AIP-151 treats cancel as best effort).
func (m *Manager) Cancel(ctx context.Context, name string) error {
	if _, _, err := store.SplitName(name); err != nil {
		return err
	}
	if j := m.job(name); j != nil {
		j.stop(errCancelled, false)
		select {
		case <-j.done:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
		// The job ended, but not necessarily cancelled: a suspend (Close,
		// the end of Run's context) may have come first and left it
		// IN_PROGRESS, or its last write failed. The record decides.
	}
	for {
		rec, gen, err := m.store.Get(ctx, name)
		if err != nil {
			return err
		}
		op, md, err := unpack(rec)
		if err != nil {
			return err
		}
		if op.GetDone() {
			return nil
		}
		running := leased(rec, m.holder, m.now())
		setState(md, finished, "cancelled")
		op.Done = true
		op.Result = &longrunningpb.Operation_Error{Error: status.Convert(errCancelled).Proto()}
		any, ended, err := pack(op, md)
		if err != nil {
			return err
		}
		checkpoint := rec.GetCheckpoint()
		rec.Operation = any
		rec.LeaseHolder, rec.LeaseExpires, rec.Checkpoint = "", nil, nil
		rec.UpdateTime = timestamppb.New(m.now())
		_, err = m.store.Update(ctx, rec, gen)
		if status.Code(err) == codes.Aborted {
			continue // the runner saved in between: look again
		}
		if err != nil {
			return err
		}
		if !running {
			// A running export's runner finds it cancelled at its next
			// save and tells the subscribers itself.
			m.ended(ctx, ended, rec.GetRequest())
		}
		if !running && (rec.GetAttempts() > 0 || len(checkpoint) > 0) {
			// Nobody runs it, so nobody else will remove its staging: a
			// runner that died before its first checkpoint, or one that was
			// suspended, left parts too. (An operation never started has
			// none, and opening its destination could fail for nothing.)
			m.cleanup(ctx, name, runRequest(rec))
		}
		return nil
	}
}

// cleanup removes the staging objects of an operation that will not run
// again; it only logs failures (staging costs storage, not correctness).
func (m *Manager) cleanup(ctx context.Context, name string, req *operationspb.ExportRequest) {
	ctx = context.WithoutCancel(ctx)
	_, id, _ := store.SplitName(name)
	_, b, err := m.open(ctx, req)
	if err == nil {
		err = export.Cleanup(ctx, b, id)
		b.Close()
	}
	if err != nil {
		m.log.Warn("could not remove the staging objects of an operation", "operation", name, "error", err)
	}
}

// Delete removes a done operation's record (not its exported objects).
// A running operation must be cancelled first: FAILED_PRECONDITION.
func (m *Manager) Delete(ctx context.Context, name string) error {
	if _, _, err := store.SplitName(name); err != nil {
		return err
	}
	if m.job(name) != nil {
		return status.Errorf(codes.FailedPrecondition, "operation %s is still running; cancel it, then delete it", name)
	}
	rec, _, err := m.store.Get(ctx, name)
	if err != nil {
		return err
	}
	op, err := operationOf(rec)
	if err != nil {
		return err
	}
	if !op.GetDone() {
		return status.Errorf(codes.FailedPrecondition, "operation %s is not done; cancel it, then delete it", name)
	}
	if err := m.store.Delete(ctx, name); err != nil {
		return err
	}
	m.answers.forget(name)
	if rid := rec.GetRequest().GetRequestId(); rid != "" {
		if err := m.store.ReleaseRequest(ctx, rec.GetRequest().GetParent(), rid, name); err != nil {
			m.log.Warn("could not release a request id", "operation", name, "error", err)
		}
	}
	return nil
}

// Wait returns the operation once it is done, or its current state when
// timeout passes first. timeout <= 0 waits until done or until ctx ends.
// The operation may be shared, as Get's is: it must not be changed.
func (m *Manager) Wait(ctx context.Context, name string, timeout time.Duration) (*longrunningpb.Operation, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	backoff := 50 * time.Millisecond
	for {
		if j := m.job(name); j != nil {
			select {
			case <-j.done:
			case <-ctx.Done():
			}
		}
		op, err := m.Get(context.WithoutCancel(ctx), name)
		if err != nil || op.GetDone() || ctx.Err() != nil {
			return op, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// Close suspends the exports this process runs, keeping their checkpoints
// and releasing their leases so that another process (Recover, Run) can
// continue them at once, and waits for them to save. The manager accepts
// no more work.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	jobs := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		jobs = append(jobs, j)
	}
	m.mu.Unlock()
	for _, j := range jobs {
		<-j.started
		j.stop(fmt.Errorf("the operation manager is closing: %w", export.ErrSuspend), false)
	}
	m.wg.Wait()
	return nil
}
