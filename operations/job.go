package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// errLost means this process no longer runs the operation: another process
// took its lease, ended it or removed it. Nothing more is written.
var errLost = errors.New("the operation is no longer run by this process")

// errCancelledElsewhere is the cause of an export stopped because another
// process cancelled its operation: the staging goes, like any cancel.
var errCancelledElsewhere = status.Error(codes.Canceled, "export cancelled by another process")

// maxSaveTimeout bounds one write of a record. A write may take at most a
// sixth of the lease (see Manager.saveTimeout): one hung write must not
// outlive the lease it is meant to renew.
const maxSaveTimeout = 30 * time.Second

// job is one operation this process runs: the live operation that Get
// returns, the lease, and the writes that keep the record in step.
type job struct {
	m       *Manager
	name    string
	id      string
	started chan struct{} // closed once acquire has ended
	done    chan struct{} // closed once the record holds the final state
	// acquired is set before started is closed: the job runs.
	acquired bool

	ctx    context.Context // the export's
	cancel context.CancelCauseFunc

	saveMu sync.Mutex // one record write at a time, generations in order

	mu         sync.Mutex
	base       *operationspb.OperationRecord // request, attempts, create time
	op         *longrunningpb.Operation      // without metadata
	md         *apigeepb.OperationMetadata
	resource   apigee.Resource
	secrets    bool
	checkpoint []byte
	holding    bool // the record names us as lease holder
	// expires is when our lease lapses according to the last record the
	// store accepted: only a successful write moves it. Another process
	// may take the operation over once it has passed.
	expires   time.Time
	gen       int64
	version   uint64 // bumped by every change of the state above
	saved     uint64 // the version the store holds
	lastSave  time.Time
	stopped   bool // errLost: write nothing more
	downloads downloads
	// shown, once set, is what Get shows instead of the live state: the
	// state before the end, while the end is being recorded and after
	// recording it failed. A poller must not see an end the store does
	// not have (it would stop watching an operation nobody finishes).
	shown *longrunningpb.Operation
}

func newJob(m *Manager, name string) *job {
	_, id, _ := store.SplitName(name)
	ctx, cancel := context.WithCancelCause(context.Background())
	return &job{m: m, name: name, id: id, started: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
}

// stop cancels the export with cause; lost also stops all writes.
func (j *job) stop(cause error, lost bool) {
	j.mu.Lock()
	if lost {
		j.stopped = true
	}
	j.mu.Unlock()
	j.cancel(cause)
}

// acquire takes the operation's lease and marks it IN_PROGRESS. It returns
// the operation, and takes nothing, when the operation is already done.
func (j *job) acquire(ctx context.Context) (*longrunningpb.Operation, error) {
	m := j.m
	rec, gen, err := m.store.Get(ctx, j.name)
	if err != nil {
		return nil, err
	}
	op, md, err := unpack(rec)
	if err != nil {
		return nil, err
	}
	if op.GetDone() {
		return op, nil
	}
	if _, ok := m.urls.restored(rec.GetRequest()); !ok {
		return nil, missingPassword(rec.GetRequest()) // before taking anything: resumable with the password
	}
	now := m.now()
	if leased(rec, m.holder, now) {
		return nil, status.Errorf(codes.FailedPrecondition, "operation %s is being run by %s (lease until %s); wait for it, or cancel it",
			j.name, rec.GetLeaseHolder(), rec.GetLeaseExpires().AsTime().Format(time.RFC3339))
	}
	op.Metadata = nil
	desc := "starting"
	if len(rec.GetCheckpoint()) > 0 {
		desc = "resuming from its last checkpoint"
	}
	setState(md, inProgress, desc)

	j.mu.Lock()
	j.base = proto.Clone(rec).(*operationspb.OperationRecord)
	j.base.Attempts++
	j.op, j.md = op, md
	j.resource = apigee.Resource(rec.GetRequest().GetResource())
	j.secrets = rec.GetRequest().GetIncludeSecrets()
	j.checkpoint = rec.GetCheckpoint()
	j.holding = true
	expires := now.Add(m.lease)
	next, err := j.record(now, expires)
	j.mu.Unlock()
	if err != nil {
		return nil, err
	}
	newGen, err := m.store.Update(ctx, next, gen)
	if status.Code(err) == codes.Aborted {
		// Another process got there first (two resumes at once): the
		// loser is told who runs it, FAILED_PRECONDITION as for a lease
		// it found taken, not ABORTED (nothing here is worth a retry).
		if cur, _, gerr := m.store.Get(ctx, j.name); gerr == nil && cur.GetLeaseHolder() != "" {
			return nil, status.Errorf(codes.FailedPrecondition, "operation %s is being run by %s, which took it as this process was starting it; wait for it, or cancel it",
				j.name, cur.GetLeaseHolder())
		}
		return nil, status.Errorf(codes.FailedPrecondition, "operation %s was changed by another process while this one was starting it; look at it again", j.name)
	}
	if err != nil {
		return nil, fmt.Errorf("taking the lease of %s: %w", j.name, err)
	}
	j.mu.Lock()
	j.gen, j.lastSave, j.saved, j.expires = newGen, now, j.version, expires
	j.mu.Unlock()
	j.acquired = true
	return nil, nil
}

// record is the record for the current state, with the lease (while we
// hold it) until expires; j.mu is held.
func (j *job) record(now, expires time.Time) (*operationspb.OperationRecord, error) {
	rec := proto.Clone(j.base).(*operationspb.OperationRecord)
	a, _, err := pack(j.op, j.md)
	if err != nil {
		return nil, err
	}
	rec.Operation = a
	rec.LeaseHolder, rec.LeaseExpires = "", nil
	if j.holding {
		rec.LeaseHolder, rec.LeaseExpires = j.m.holder, timestamppb.New(expires)
	}
	rec.Checkpoint = j.checkpoint
	rec.UpdateTime = timestamppb.New(now)
	return rec, nil
}

// snapshot is the live operation, for Get.
func (j *job) snapshot() *longrunningpb.Operation {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.shown != nil {
		return proto.Clone(j.shown).(*longrunningpb.Operation)
	}
	return j.snapshotLocked()
}

func (j *job) snapshotLocked() *longrunningpb.Operation {
	_, op, err := pack(j.op, j.md)
	if err != nil {
		return proto.Clone(j.op).(*longrunningpb.Operation)
	}
	return op
}

// run runs the export to its end and records how it ended.
func (j *job) run() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { j.keepalive(stop) })
	res, err := j.safeExport()
	close(stop)
	wg.Wait()
	j.finish(res, err)
}

// safeExport is export with a panic turned into an INTERNAL error, so that
// the operation ends FAILED (which Recover leaves alone) instead of the
// process dying with every export it runs and Recover resuming the same
// panic after a restart. Its staging goes, as after any failure.
func (j *job) safeExport() (res *export.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, export.PanicError(j.m.log.With("operation", j.name), "export "+j.name, p)
			j.mu.Lock()
			req := j.base.GetRequest()
			j.mu.Unlock()
			defer func() {
				if p := recover(); p != nil { // the destination's code may be what panicked
					j.m.log.Error("could not remove the staging of an export that panicked", "operation", j.name, "panic", fmt.Sprint(p))
				}
			}()
			j.m.cleanup(context.Background(), j.name, req)
		}
	}()
	return j.export()
}

func (j *job) export() (*export.Result, error) {
	m := j.m
	j.mu.Lock()
	req := runRequest(j.base)
	cp := j.checkpoint
	attempts := j.base.GetAttempts()
	j.mu.Unlock()

	spec, err := Spec(req)
	if err != nil {
		return nil, err
	}
	var resume *export.Checkpoint
	if len(cp) > 0 {
		resume = new(export.Checkpoint)
		if err := json.Unmarshal(cp, resume); err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "the checkpoint of %s cannot be read (%v); start the export again", j.name, err)
		}
	}
	src, bucket, err := m.open(j.ctx, req)
	if err != nil {
		return nil, err
	}
	defer bucket.Close()
	if resume == nil && attempts > 1 {
		// A run that died before its first checkpoint may have left parts.
		if err := export.Cleanup(j.ctx, bucket, j.id); err != nil {
			m.log.Warn("could not remove the staging of an earlier attempt", "operation", j.name, "error", err)
		}
	}
	r := &export.Runner{
		Source:              src,
		Bucket:              bucket,
		OnProgress:          j.progress,
		OnCheckpoint:        j.saveCheckpoint,
		Resume:              resume,
		StagingID:           j.id,
		CheckpointEvery:     m.every,
		MaxParallelRequests: m.parallel,
		Logger:              m.log.With("operation", j.name),
		Now:                 m.now,
	}
	res, err := r.Run(j.ctx, spec)
	if err == nil {
		d := m.sign(j.ctx, bucket, res, j.name) // while the bucket is open
		if w := m.pointLatest(j.ctx, j.base.GetRequest(), spec, bucket, res, j.name); w != "" {
			d.warnings = append(d.warnings, w)
		}
		j.mu.Lock()
		j.downloads = d
		j.mu.Unlock()
	}
	return res, err
}

func (j *job) progress(p export.Progress) {
	j.mu.Lock()
	defer j.mu.Unlock()
	applyProgress(j.md, j.resource, p, j.secrets)
	j.version++
}

// saveCheckpoint keeps the checkpoint in the record before the export goes
// on: a checkpoint that is not stored cannot be resumed from.
func (j *job) saveCheckpoint(_ context.Context, cp *export.Checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encoding the checkpoint: %w", err)
	}
	j.mu.Lock()
	j.checkpoint = b
	j.version++
	j.mu.Unlock()
	for {
		err := j.save(false)
		if err == nil || errors.Is(err, errLost) {
			return err
		}
		// The store failed. Try again while the lease leaves time for it;
		// then suspend rather than fail: a failed run would remove staging
		// objects that the checkpoint in the store still refers to.
		j.m.log.Warn("could not save a checkpoint", "operation", j.name, "error", err)
		if !j.leaseLeft() {
			cause := fmt.Errorf("could not save a checkpoint before the lease ran out (%v): %w", err, export.ErrSuspend)
			j.stop(cause, false)
			return cause
		}
		select {
		case <-j.ctx.Done():
			return context.Cause(j.ctx)
		case <-time.After(j.m.renewPeriod()):
		}
	}
}

// leaseLeft reports whether the lease the store last accepted leaves room
// for one more write and a renewal period after it. When it does not, the
// export must stop: another process may take the operation over as soon
// as the lease lapses, and both would write the same staging objects.
func (j *job) leaseLeft() bool {
	m := j.m
	j.mu.Lock()
	expires := j.expires
	j.mu.Unlock()
	return m.now().Add(m.saveTimeout() + m.renewPeriod()).Before(expires)
}

// saveTimeout bounds one write of a record: at most a sixth of the lease,
// so that a hung write leaves time to give the lease up in order.
func (m *Manager) saveTimeout() time.Duration { return min(maxSaveTimeout, m.lease/6) }

// renewPeriod is how often keepalive looks at the lease and the progress.
func (m *Manager) renewPeriod() time.Duration { return min(saveEvery, m.lease/6) }

// keepalive renews the lease every third of its duration and saves
// progress at most every saveEvery, until stop is closed. When the store
// keeps failing, it suspends the export while the lease the store holds
// still has saveTimeout and a period to run: another process may take the
// operation over once it lapses, and must find this runner stopped.
func (j *job) keepalive(stop <-chan struct{}) {
	m := j.m
	t := time.NewTicker(m.renewPeriod())
	defer t.Stop()
	var lastErr error
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		j.mu.Lock()
		since := m.now().Sub(j.lastSave)
		due := since >= m.lease/3 || (j.version != j.saved && since >= saveEvery)
		j.mu.Unlock()
		if due {
			err := j.save(false)
			if errors.Is(err, errLost) {
				return
			}
			if err != nil {
				m.log.Warn("could not save the operation", "operation", j.name, "error", err)
				lastErr = err
			}
		}
		if !j.leaseLeft() {
			j.stop(fmt.Errorf("could not renew the lease before it ran out (last error: %v): %w", lastErr, export.ErrSuspend), false)
			return
		}
	}
}

// save writes the current state with a generation check, renewing the
// lease (or releasing it). When the check fails it finds out why: if the
// operation was taken over, ended or removed by someone else, the export
// is stopped and errLost returned.
func (j *job) save(release bool) error {
	m := j.m
	ctx, cancel := context.WithTimeout(context.Background(), m.saveTimeout())
	defer cancel()
	j.saveMu.Lock()
	defer j.saveMu.Unlock()

	j.mu.Lock()
	if j.stopped {
		j.mu.Unlock()
		return errLost
	}
	now := m.now()
	if release {
		j.holding = false
	}
	// The new expiry counts only once the store has it: until then the
	// lease other processes see is the old one.
	expires := now.Add(m.lease)
	rec, err := j.record(now, expires)
	gen, ver := j.gen, j.version
	j.mu.Unlock()
	if err != nil {
		return err
	}

	for attempt := 0; ; attempt++ {
		newGen, err := m.store.Update(ctx, rec, gen)
		if err == nil {
			j.mu.Lock()
			j.gen, j.saved, j.lastSave = newGen, ver, now
			if !release {
				j.expires = expires
			}
			j.mu.Unlock()
			return nil
		}
		if c := status.Code(err); c != codes.Aborted && c != codes.NotFound {
			return err
		}
		cur, curGen, gerr := m.store.Get(ctx, j.name)
		if status.Code(gerr) == codes.NotFound {
			j.stop(errCancelledElsewhere, true)
			return errLost
		}
		if gerr != nil {
			return gerr
		}
		curOp, gerr := operationOf(cur)
		if gerr != nil {
			return gerr
		}
		switch {
		case curOp.GetDone():
			m.log.Info("operation ended by another process", "operation", j.name)
			j.stop(errCancelledElsewhere, true)
			// The process that ended it saw it running (our lease) and
			// left the notification to us.
			// In the background, counted in m.wg (as this job still is)
			// so that Close waits for it.
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				m.ended(context.Background(), curOp, cur.GetRequest())
			}()
			return errLost
		case cur.GetLeaseHolder() != m.holder:
			m.log.Warn("operation taken over by another process", "operation", j.name, "holder", cur.GetLeaseHolder())
			j.stop(fmt.Errorf("operation taken over by %q: %w", cur.GetLeaseHolder(), export.ErrSuspend), true)
			return errLost
		case attempt == 0:
			// Our own write landed although it was reported failed (a
			// retried request): nobody else is involved, write over it.
			gen = curGen
		default:
			return err
		}
	}
}

// finish records how the export ended: done with a response or an error,
// or (suspended) still IN_PROGRESS with the lease released.
func (j *job) finish(res *export.Result, err error) {
	m := j.m
	cause := context.Cause(j.ctx)
	j.mu.Lock()
	if j.stopped {
		j.mu.Unlock()
		return
	}
	desc := j.md.GetProgress().GetDescription()
	j.shown = j.snapshotLocked()
	switch {
	case err == nil:
		p := finalProgress(res)
		applyProgress(j.md, j.resource, p, j.secrets)
		p.Total = -1
		setState(j.md, finished, describe(j.resource, p))
		resp := response(res)
		j.downloads.apply(resp, j.md)
		if a, perr := anypb.New(resp); perr == nil {
			j.op.Result = &longrunningpb.Operation_Response{Response: a}
		} else {
			j.op.Result = &longrunningpb.Operation_Error{Error: status.Convert(perr).Proto()}
		}
		j.op.Done = true
		j.checkpoint = nil
	case errors.Is(cause, export.ErrSuspend):
		setState(j.md, inProgress, "suspended, waiting to be resumed; "+strings.TrimPrefix(desc, "suspended, waiting to be resumed; "))
	case errors.Is(cause, errCancelled):
		setState(j.md, finished, "cancelled; "+desc)
		j.op.Done = true
		j.op.Result = &longrunningpb.Operation_Error{Error: status.Convert(errCancelled).Proto()}
		j.checkpoint = nil
	default:
		setState(j.md, finished, "failed; "+desc)
		j.op.Done = true
		j.op.Result = &longrunningpb.Operation_Error{Error: ErrorStatus(err).Proto()}
		j.checkpoint = nil
	}
	j.version++
	done := j.op.GetDone()
	req := j.base.GetRequest()
	j.mu.Unlock()

	serr := j.save(true)
	if serr != nil && !errors.Is(serr, errLost) {
		m.log.Error("could not record the end of an operation; its lease will lapse and Recover will look at it again", "operation", j.name, "error", serr)
		m.mu.Lock()
		if m.unrecorded == nil {
			m.unrecorded = map[string]error{}
		}
		m.unrecorded[j.name] = &endNotRecorded{name: j.name, done: done, err: serr}
		m.mu.Unlock()
	} else {
		j.mu.Lock()
		j.shown = nil
		j.mu.Unlock()
	}
	if done && serr == nil {
		m.ended(context.Background(), j.snapshot(), req)
	}
}

// ErrEndNotRecorded is what Get and Run answer (errors.Is) for an export
// that ended in this process but whose end the store did not take after
// its retries: the store still says IN_PROGRESS with this process's lease,
// and only this process knows better. Nobody would otherwise end it until
// the lease lapses and a Recover runs it again, so a caller polling Get
// must stop and say how to continue (`operations resume`): a resumed run
// publishes the same objects and records the end.
var ErrEndNotRecorded = errors.New("the end of the export could not be recorded")

type endNotRecorded struct {
	name string
	done bool // the export ended (done), rather than being suspended
	err  error
}

func (e *endNotRecorded) Error() string {
	how := "was suspended"
	if e.done {
		how = "ended"
	}
	return fmt.Sprintf("operation %s %s in this process, but the operation store did not take its new state (%v): "+
		"it still says IN_PROGRESS; resume it to finish and record it", e.name, how, e.err)
}

func (e *endNotRecorded) Is(target error) bool { return target == ErrEndNotRecorded }
func (e *endNotRecorded) Unwrap() error        { return e.err }

func (e *endNotRecorded) GRPCStatus() *status.Status {
	return status.New(codes.Unavailable, e.Error())
}

// unrecordedEnd returns the endNotRecorded error of operation name, if any.
func (m *Manager) unrecordedEnd(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err, ok := m.unrecorded[name]; ok {
		return err
	}
	return nil
}
