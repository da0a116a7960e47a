// Package queue bounds how many exports a server runs at once. Each export
// holds pages, encoders and upload buffers in memory (a 12,000-app Parquet
// export about 70 MiB), so triggers beyond the bound are recorded
// NOT_STARTED and run in arrival order as running ones end; their metadata
// says where they stand in line. A per-organization limit keeps one caller
// from filling the line: beyond it a trigger is RESOURCE_EXHAUSTED.
package queue

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
)

// Manager is what the queue needs of an *operations.Manager.
type Manager interface {
	Create(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error)
	Start(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error)
	Run(ctx context.Context, name string) (*longrunningpb.Operation, error)
	Get(ctx context.Context, name string) (*longrunningpb.Operation, error)
	List(ctx context.Context, parent, filter string, pageSize int32, pageToken string) ([]*longrunningpb.Operation, string, error)
	Cancel(ctx context.Context, name string) error
	Delete(ctx context.Context, name string) error
	Wait(ctx context.Context, name string, timeout time.Duration) (*longrunningpb.Operation, error)
	Stranded(ctx context.Context) ([]string, error)
}

// Options configure a Queue.
type Options struct {
	// MaxRunning is how many exports run at once (at least 1).
	MaxRunning int
	// MaxPerOrganization caps the exports of one organization running or
	// waiting here at once; 0 means no cap.
	MaxPerOrganization int
	Logger             *slog.Logger
}

// Queue runs triggered exports through a Manager, at most MaxRunning at
// once. It has the methods of the server's Operations.
type Queue struct {
	m    Manager
	opts Options
	log  *slog.Logger

	ctx    context.Context // ends with Close: stop dispatching
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	waiting  []string        // names, oldest first
	running  map[string]bool // names this queue started
	starting int             // slots taken by Starts under way
	orgs     map[string]int  // running + waiting, by organization
	// requests maps a trigger's organization and request_id to the
	// operation this queue holds for it, so that a retried trigger at the
	// per-organization limit gets its own operation back, not a refusal.
	requests map[requestKey]string
	peak     int // most running at once
	closed   bool
}

// New returns a Queue in front of m. Close it before closing m.
func New(m Manager, opts Options) *Queue {
	if opts.MaxRunning < 1 {
		opts.MaxRunning = 1
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Queue{m: m, opts: opts, log: log, ctx: ctx, cancel: cancel,
		running: map[string]bool{}, orgs: map[string]int{}, requests: map[requestKey]string{}}
}

// requestKey names a trigger by organization and request_id.
type requestKey struct{ org, id string }

// Close stops starting queued exports; they stay NOT_STARTED in the store,
// where another process's Recover finds them. It waits for the goroutines
// that follow running exports, which end once the Manager is closed (it
// suspends them) or they finish: call it concurrently with, or before,
// the Manager's Close.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cancel()
	q.wg.Wait()
}

// Peak is the most exports this queue had running at once.
func (q *Queue) Peak() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.peak
}

func orgOf(parent string) string { return strings.TrimPrefix(parent, "organizations/") }

// Start records the export and starts it if fewer than MaxRunning run;
// otherwise it stays NOT_STARTED, in line. A trigger that would take its
// organization over MaxPerOrganization is RESOURCE_EXHAUSTED, before
// anything is written.
func (q *Queue) Start(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	org := orgOf(req.GetParent())
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, status.Error(codes.Unavailable, "the server is shutting down; retry against another instance")
	}
	if n := q.orgs[org]; q.opts.MaxPerOrganization > 0 && n >= q.opts.MaxPerOrganization {
		held, retried := q.requests[requestKey{org, req.GetRequestId()}]
		q.mu.Unlock()
		if retried && req.GetRequestId() != "" {
			// The limit is full with this very trigger: a retry (same
			// request_id) is answered with its operation, as below the limit.
			return q.Get(ctx, held)
		}
		return nil, status.Errorf(codes.ResourceExhausted, "organization %s already has %d exports running or waiting in this server, the most it allows "+
			"(its per-organization limit); wait for one to end, or cancel one", org, n)
	}
	q.orgs[org]++ // held while Start is under way
	startNow := len(q.running)+q.starting < q.opts.MaxRunning && len(q.waiting) == 0
	if startNow {
		q.starting++
		q.peak = max(q.peak, len(q.running)+q.starting)
	}
	q.mu.Unlock()

	if startNow {
		op, err := q.m.Start(ctx, req)
		q.mu.Lock()
		q.starting--
		if err != nil || op.GetDone() || q.running[op.GetName()] {
			q.orgs[org]--
			q.mu.Unlock()
			q.dispatch()
			return op, err
		}
		q.running[op.GetName()] = true
		q.hold(org, req.GetRequestId(), op.GetName())
		q.mu.Unlock()
		q.follow(op.GetName(), org, func(ctx context.Context) { q.m.Wait(ctx, op.GetName(), 0) })
		return op, nil
	}

	op, err := q.m.Create(ctx, req)
	q.mu.Lock()
	if err != nil || op.GetDone() || stateOf(op) != apigeepb.OperationMetadata_NOT_STARTED ||
		q.running[op.GetName()] || slices.Contains(q.waiting, op.GetName()) {
		// Failed, or a retried trigger (same request_id) of an operation
		// already run, running or in line.
		q.orgs[org]--
		q.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return q.decorate(op), nil
	}
	q.waiting = append(q.waiting, op.GetName())
	q.hold(org, req.GetRequestId(), op.GetName())
	q.mu.Unlock()
	q.log.Info("export queued", "operation", op.GetName(), "position", q.position(op.GetName()))
	q.dispatch()
	return q.decorate(op), nil
}

// hold remembers the operation a trigger with a request_id got; q.mu is held.
func (q *Queue) hold(org, requestID, name string) {
	if requestID != "" {
		q.requests[requestKey{org, requestID}] = name
	}
}

// release forgets the request_id of an operation that no longer counts
// against its organization; q.mu is held.
func (q *Queue) release(name string) {
	for k, v := range q.requests {
		if v == name {
			delete(q.requests, k)
		}
	}
}

// Recover puts in line the exports whose runner is gone
// (Manager.Stranded), so that restarting them obeys MaxRunning like any
// trigger: a server that finds twenty interrupted exports must not run
// twenty at once. They do not count against the per-organization limit's
// refusals (they were let in once) but hold its places while they wait.
// Call it where a Manager's Recover would be called.
func (q *Queue) Recover(ctx context.Context) error {
	names, err := q.m.Stranded(ctx)
	q.mu.Lock()
	for _, name := range names {
		if q.closed || q.running[name] || slices.Contains(q.waiting, name) {
			continue
		}
		q.waiting = append(q.waiting, name)
		q.orgs[orgOfName(name)]++
	}
	q.mu.Unlock()
	q.dispatch()
	return err
}

// orgOfName is the organization of an operation name
// (organizations/ORG/operations/ID).
func orgOfName(name string) string {
	if parts := strings.Split(name, "/"); len(parts) > 1 {
		return parts[1]
	}
	return ""
}

// follow runs wait (which returns when the export ends) in the
// background, then frees the export's slot and starts the next in line.
func (q *Queue) follow(name, org string, wait func(ctx context.Context)) {
	q.wg.Go(func() {
		wait(q.ctx)
		q.mu.Lock()
		delete(q.running, name)
		q.release(name)
		q.orgs[org]--
		if q.orgs[org] <= 0 {
			delete(q.orgs, org)
		}
		q.mu.Unlock()
		q.dispatch()
	})
}

// dispatch starts exports in line while slots are free.
func (q *Queue) dispatch() {
	for {
		q.mu.Lock()
		if q.closed || len(q.waiting) == 0 || len(q.running)+q.starting >= q.opts.MaxRunning {
			q.mu.Unlock()
			return
		}
		name := q.waiting[0]
		q.waiting = q.waiting[1:]
		q.running[name] = true
		q.peak = max(q.peak, len(q.running)+q.starting)
		q.mu.Unlock()
		org := orgOfName(name)
		q.log.Info("export leaves the queue", "operation", name)
		q.follow(name, org, func(ctx context.Context) {
			// Run returns at once for an operation cancelled while in
			// line (done) or taken by another process's Recover.
			if _, err := q.m.Run(ctx, name); err != nil && ctx.Err() == nil {
				q.log.Warn("queued export did not run here", "operation", name, "error", err)
			}
		})
	}
}

// position is 1 for the next export to start, 0 for one not in line.
func (q *Queue) position(name string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Index(q.waiting, name) + 1
}

// decorate says, in a NOT_STARTED operation's progress description, where
// it stands in line. op itself is never changed (it may be shared).
func (q *Queue) decorate(op *longrunningpb.Operation) *longrunningpb.Operation {
	if op == nil || op.GetDone() {
		return op
	}
	pos := q.position(op.GetName())
	if pos == 0 {
		return op
	}
	md := new(apigeepb.OperationMetadata)
	if op.GetMetadata() == nil || op.GetMetadata().UnmarshalTo(md) != nil || md.GetState() != apigeepb.OperationMetadata_NOT_STARTED {
		return op
	}
	if md.Progress == nil {
		md.Progress = new(apigeepb.OperationMetadataProgress)
	}
	q.mu.Lock()
	waiting := len(q.waiting)
	q.mu.Unlock()
	desc := fmt.Sprintf("queued: number %d of %d waiting; this server runs at most %d exports at once", pos, waiting, q.opts.MaxRunning)
	md.Progress.Description = &desc
	a, err := anypb.New(md)
	if err != nil {
		return op
	}
	// The Manager's operations are shared with its other callers: the
	// position goes on a copy.
	op = proto.Clone(op).(*longrunningpb.Operation)
	op.Metadata = a
	return op
}

func stateOf(op *longrunningpb.Operation) apigeepb.OperationMetadata_State {
	md := new(apigeepb.OperationMetadata)
	if op.GetMetadata() == nil || op.GetMetadata().UnmarshalTo(md) != nil {
		return apigeepb.OperationMetadata_STATE_UNSPECIFIED
	}
	return md.GetState()
}

// Get is the Manager's, with the position in line of a waiting export.
func (q *Queue) Get(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	op, err := q.m.Get(ctx, name)
	return q.decorate(op), err
}

// List is the Manager's, with positions in line.
func (q *Queue) List(ctx context.Context, parent, filter string, pageSize int32, pageToken string) ([]*longrunningpb.Operation, string, error) {
	ops, next, err := q.m.List(ctx, parent, filter, pageSize, pageToken)
	for i, op := range ops {
		ops[i] = q.decorate(op)
	}
	return ops, next, err
}

// Cancel cancels the operation and takes it out of line.
func (q *Queue) Cancel(ctx context.Context, name string) error {
	err := q.m.Cancel(ctx, name)
	if err == nil {
		q.mu.Lock()
		if i := slices.Index(q.waiting, name); i >= 0 {
			q.waiting = slices.Delete(q.waiting, i, i+1)
			q.release(name)
			org := orgOfName(name)
			if q.orgs[org]--; q.orgs[org] <= 0 {
				delete(q.orgs, org)
			}
		}
		q.mu.Unlock()
	}
	return err
}

// Delete is the Manager's.
func (q *Queue) Delete(ctx context.Context, name string) error { return q.m.Delete(ctx, name) }

// Wait is the Manager's, with the position in line of a waiting export.
func (q *Queue) Wait(ctx context.Context, name string, timeout time.Duration) (*longrunningpb.Operation, error) {
	op, err := q.m.Wait(ctx, name, timeout)
	return q.decorate(op), err
}
