package operations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/operations/operationspb"
)

// Recover looks for operations whose runner is gone and deals with each so
// that it ends visibly. An operation that is not done and whose lease is
// free or lapsed (its runner died, or suspended it on Close) is started
// again in this process, in the background:
//
//   - from its checkpoint when it has one (json, ndjson, csv);
//   - else from the beginning: a Parquet export (it never has a
//     checkpoint), or any export that stopped before its first one. The
//     run has the same staging id, so it removes what the earlier attempt
//     left first.
//
// An operation that was started maxAttempts times, or whose request is no
// longer valid, fails with ABORTED instead, saying why, and its staging
// objects are removed.
//
// A NOT_STARTED operation that nobody leases is left to the Cloud Run job
// or `pubexport run` it was created for, unless it has waited longer than
// Config.NotStartedTimeout (an hour by default): then its creator is
// presumed dead and Recover starts it too.
//
// A record that cannot be read (damaged, or a store error on that one
// record) is skipped and logged; Recover goes on with the others and then
// returns an error that lists every skipped record. Such an error is
// partial: callers should log it and carry on (a server must not refuse to
// start because of one bad record), and call Recover again later. Only a
// failure to list the store at all means nothing was looked at.
//
// Call Recover at startup and then every LeaseDuration or so.
func (m *Manager) Recover(ctx context.Context) error {
	names, err := m.Stranded(ctx)
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		if lerr := m.relaunch(ctx, name); lerr != nil {
			m.log.Warn("could not recover an operation; skipped it", "operation", name, "error", lerr)
			err = errors.Join(err, fmt.Errorf("recovering %s: %w", name, lerr))
		}
	}
	return err
}

// Stranded is Recover without the restarts: it ends with ABORTED the
// operations that cannot continue and returns the names of those to start
// again, for a caller that runs exports under its own bound (a server's
// queue) rather than all at once. Its error has Recover's meaning; the names
// it returns are good even when the error is not nil.
func (m *Manager) Stranded(ctx context.Context) ([]string, error) {
	names, err := m.store.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing operations to recover: %w", err)
	}
	var errs []error
	var stranded []string
	for _, name := range names {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("recovering operations: stopped before %s: %w", name, ctx.Err()))
			break
		}
		again, err := m.recover(ctx, name)
		if err != nil {
			m.log.Warn("could not recover an operation; skipped it", "operation", name, "error", err)
			errs = append(errs, fmt.Errorf("recovering %s: %w", name, err))
		}
		if again {
			stranded = append(stranded, name)
		}
	}
	return stranded, errors.Join(errs...)
}

// relaunch starts a stranded operation in this process; losing the race to
// another process is fine.
func (m *Manager) relaunch(ctx context.Context, name string) error {
	_, _, err := m.launch(context.WithoutCancel(ctx), name)
	if c := status.Code(err); c == codes.FailedPrecondition || c == codes.Aborted {
		return nil // another process got there first
	}
	return err
}

// recover deals with operation name and reports whether it is to be
// started again: no when it is done, alive, waiting for its own runner, or
// ended here with ABORTED.
func (m *Manager) recover(ctx context.Context, name string) (bool, error) {
	if m.job(name) != nil {
		return false, nil
	}
	rec, gen, err := m.store.Get(ctx, name)
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	op, md, err := unpack(rec)
	if err != nil {
		return false, err
	}
	now := m.now()
	switch {
	case op.GetDone():
		return false, nil
	case leased(rec, "", now):
		return false, nil // its runner is alive
	case rec.GetLeaseHolder() == "" && md.GetState() == notStarted && !m.orphaned(rec, now):
		return false, nil // never started: Run will
	}
	var last string
	if h := rec.GetLeaseHolder(); h != "" {
		last = fmt.Sprintf("; its last runner was %s", h)
	}
	spec, err := Spec(rec.GetRequest())
	switch {
	case err != nil:
		return false, m.abort(ctx, rec, gen, fmt.Sprintf("its request is no longer valid (%v)", status.Convert(err).Message()))
	case rec.GetAttempts() >= maxAttempts:
		return false, m.abort(ctx, rec, gen, fmt.Sprintf("it was started %d times and never finished%s", rec.GetAttempts(), last))
	}
	resume := spec.Format.Resumable() && len(rec.GetCheckpoint()) > 0
	m.log.Info("recovering an operation whose runner stopped", "operation", name, "previous_holder", rec.GetLeaseHolder(),
		"state", md.GetState().String(), "resume", resume)
	return true, nil
}

// orphaned reports whether a NOT_STARTED record has waited for its runner
// longer than NotStartedTimeout.
func (m *Manager) orphaned(rec *operationspb.OperationRecord, now time.Time) bool {
	if m.notStarted < 0 || rec.GetCreateTime() == nil {
		return false
	}
	return now.Sub(rec.GetCreateTime().AsTime()) >= m.notStarted
}

// abort ends an operation that cannot continue with ABORTED.
func (m *Manager) abort(ctx context.Context, rec *operationspb.OperationRecord, gen int64, why string) error {
	op, md, err := unpack(rec)
	if err != nil {
		return err
	}
	st := status.Newf(codes.Aborted, "export %s cannot continue: %s; start the export again", op.GetName(), why)
	setState(md, finished, "aborted; "+md.GetProgress().GetDescription())
	op.Done = true
	op.Result = &longrunningpb.Operation_Error{Error: st.Proto()}
	a, ended, err := pack(op, md)
	if err != nil {
		return err
	}
	rec.Operation = a
	rec.LeaseHolder, rec.LeaseExpires, rec.Checkpoint = "", nil, nil
	rec.UpdateTime = timestamppb.New(m.now())
	if _, err := m.store.Update(ctx, rec, gen); err != nil {
		if status.Code(err) == codes.Aborted {
			return nil // someone else acted on it
		}
		return err
	}
	m.log.Warn("operation aborted", "operation", op.GetName(), "reason", why)
	m.ended(ctx, ended, rec.GetRequest())
	m.cleanup(ctx, op.GetName(), runRequest(rec))
	return nil
}
