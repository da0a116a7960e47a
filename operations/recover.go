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

// Recover looks for operations whose runner died (IN_PROGRESS, or leased,
// with a lapsed lease) and deals with each so that it ends visibly:
//
//   - a resumable export (json, ndjson, csv) with a checkpoint resumes in
//     this process, in the background, from that checkpoint;
//   - a Parquet export starts over in this process (a Parquet object
//     cannot be continued; it never has a checkpoint);
//   - anything else (a text export that died before its first checkpoint,
//     or one that died maxAttempts times) fails with ABORTED, saying why,
//     and its staging objects are removed.
//
// Operations never started (NOT_STARTED, no lease) are left for Run. Call
// Recover at startup and then every LeaseDuration or so.
func (m *Manager) Recover(ctx context.Context) error {
	names, err := m.store.List(ctx, "")
	if err != nil {
		return fmt.Errorf("listing operations to recover: %w", err)
	}
	var errs []error
	for _, name := range names {
		if err := m.recover(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("recovering %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) recover(ctx context.Context, name string) error {
	if m.job(name) != nil {
		return nil
	}
	rec, gen, err := m.store.Get(ctx, name)
	if status.Code(err) == codes.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	op, md, err := unpack(rec)
	if err != nil {
		return err
	}
	now := m.now()
	switch {
	case op.GetDone():
		return nil
	case rec.GetLeaseHolder() == "" && md.GetState() == notStarted:
		return nil // never started: Run will
	case leased(rec, "", now):
		return nil // its runner is alive
	}
	holder := rec.GetLeaseHolder()
	if holder == "" {
		holder = "a process that stopped"
	}
	spec, err := Spec(rec.GetRequest())
	switch {
	case err != nil:
		return m.abort(ctx, rec, gen, fmt.Sprintf("its request is no longer valid (%v)", status.Convert(err).Message()))
	case rec.GetAttempts() >= maxAttempts:
		return m.abort(ctx, rec, gen, fmt.Sprintf("it was started %d times and never finished; the last runner was %s", rec.GetAttempts(), holder))
	case !spec.Format.Resumable(), len(rec.GetCheckpoint()) > 0:
		m.log.Info("recovering an operation whose runner stopped", "operation", name, "previous_holder", rec.GetLeaseHolder(), "resume", spec.Format.Resumable())
		_, _, err := m.launch(context.WithoutCancel(ctx), name)
		if c := status.Code(err); c == codes.FailedPrecondition || c == codes.Aborted {
			return nil // another process got there first
		}
		return err
	default:
		return m.abort(ctx, rec, gen, fmt.Sprintf("its runner %s stopped (lease expired %s) before the export saved its first checkpoint",
			holder, rec.GetLeaseExpires().AsTime().Format(time.RFC3339)))
	}
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
	a, _, err := pack(op, md)
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
	m.cleanup(ctx, op.GetName(), rec.GetRequest())
	return nil
}
