package operations

import (
	"context"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/operations/operationspb"
)

// Notifier is told about operations that ended. Notify is called once per
// operation, by the process that recorded its end (or, for an export
// cancelled while another process ran it, by that runner).
type Notifier interface {
	Notify(ctx context.Context, op *longrunningpb.Operation, req *operationspb.ExportRequest) error
}

// warningAttempts bounds the read-modify-write of a late warning.
const warningAttempts = 5

// ended logs how op ended at the severity people filter on (ERROR for a
// failure, WARNING for a cancellation) and notifies the subscribers. A
// notification that cannot be published becomes a warning on the
// operation: the export itself is done either way.
func (m *Manager) ended(ctx context.Context, op *longrunningpb.Operation, req *operationspb.ExportRequest) {
	name := op.GetName()
	switch e := op.GetError(); {
	case e == nil:
		m.log.Info("operation done", "operation", name, "resource", req.GetResource())
	case codes.Code(e.GetCode()) == codes.Canceled:
		m.log.Warn("operation cancelled", "operation", name, "resource", req.GetResource())
	default:
		m.log.Error("operation failed", "operation", name, "resource", req.GetResource(),
			"code", code.Code(e.GetCode()).String(), "error", e.GetMessage())
	}
	if m.notify == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := m.notify.Notify(ctx, op, req); err != nil {
		m.log.Warn("could not publish the notification of an ended operation", "operation", name, "error", err)
		m.addWarning(ctx, name, "notification not published: "+status.Convert(err).Message())
	}
}

// addWarning adds w to the warnings of a recorded operation, retrying when
// another writer got there first.
func (m *Manager) addWarning(ctx context.Context, name, w string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for range warningAttempts {
		rec, gen, err := m.store.Get(ctx, name)
		if err != nil {
			m.log.Warn("could not record a warning on the operation", "operation", name, "warning", w, "error", err)
			return
		}
		op, md, err := unpack(rec)
		if err != nil {
			return
		}
		md.Warnings = append(md.Warnings, w)
		a, _, err := pack(op, md)
		if err != nil {
			return
		}
		rec.Operation = a
		rec.UpdateTime = timestamppb.New(m.now())
		_, err = m.store.Update(ctx, rec, gen)
		if status.Code(err) == codes.Aborted {
			continue
		}
		if err != nil {
			m.log.Warn("could not record a warning on the operation", "operation", name, "warning", w, "error", err)
		}
		return
	}
}
