package operations_test

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/operations"
)

// slowData makes an export of many small pages, for tests that hold it in
// the middle (see traffic).
var slowData = emulator.GenerateSpec{Developers: 300, Seed: 5}

// hasCheckpoint waits until the operation's record holds a checkpoint: the
// export is under way and has staging objects.
func (e *env) hasCheckpoint(name string) {
	e.t.Helper()
	waitFor(e.t, "a checkpoint of "+name, func() bool {
		rec, _ := e.record(name)
		return len(rec.GetCheckpoint()) > 0
	})
}

func wantCancelled(t *testing.T, op *longrunningpb.Operation) {
	t.Helper()
	if !op.GetDone() || op.GetError().GetCode() != int32(codes.Canceled) {
		t.Fatalf("operation not cancelled: %v", op)
	}
	if md := metadataOf(t, op); md.GetState() != apigeepb.OperationMetadata_FINISHED {
		t.Fatalf("cancelled operation in state %v", md.GetState())
	}
}

// cancelledClean checks that operation name, as m reads it, ended
// CANCELLED and that nothing of it is left in the bucket: no staging, no
// final object. It returns the operation.
func (e *env) cancelledClean(ctx context.Context, m *operations.Manager, name string) *longrunningpb.Operation {
	e.t.Helper()
	got, err := m.Get(ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	wantCancelled(e.t, got)
	if s, f := e.staging(), e.finals(); len(s)+len(f) != 0 {
		e.t.Fatalf("after cancel: staging %v, finals %v", s, f)
	}
	return got
}

// TestCancel: cancelling a running export ends it CANCELLED, publishes
// nothing and leaves no staging, whether the runner is this process or
// another one.
func TestCancel(t *testing.T) {
	for _, b := range []backend{local, gcs} {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			tr := newTraffic(t)
			e := newEnv(t, b, slowData, tr.options())
			ctx := context.Background()
			m := e.manager("runner")
			tr.holdAfter(holdPages)
			op, err := m.Start(ctx, e.request("developers", "csv"))
			if err != nil {
				t.Fatal(err)
			}
			e.hasCheckpoint(op.GetName())
			if len(e.staging()) == 0 {
				t.Fatal("no staging objects while running: the test proves nothing")
			}
			if err := m.Cancel(ctx, op.GetName()); err != nil {
				t.Fatal(err)
			}
			got := e.cancelledClean(ctx, m, op.GetName())
			rec, _ := e.record(op.GetName())
			if rec.GetLeaseHolder() != "" || len(rec.GetCheckpoint()) != 0 {
				t.Fatalf("cancelled record keeps lease %q or checkpoint", rec.GetLeaseHolder())
			}

			// Cancelling a done operation is a no-op that succeeds.
			if err := m.Cancel(ctx, op.GetName()); err != nil {
				t.Fatal(err)
			}
			again, _ := m.Get(ctx, op.GetName())
			if !proto.Equal(again, got) {
				t.Fatalf("a second Cancel changed the operation: %v", again)
			}

			// Cancel from another process: the record ends at once; the
			// runner notices at its next save and removes its staging.
			tr.holdAfter(holdPages)
			op2, err := m.Start(ctx, e.request("developers", "json"))
			if err != nil {
				t.Fatal(err)
			}
			e.hasCheckpoint(op2.GetName())
			api := e.manager("api-server")
			if err := api.Cancel(ctx, op2.GetName()); err != nil {
				t.Fatal(err)
			}
			fromStore, err := api.Get(ctx, op2.GetName())
			if err != nil {
				t.Fatal(err)
			}
			wantCancelled(t, fromStore)
			final, err := m.Wait(ctx, op2.GetName(), 0) // returns once the runner let go
			if err != nil {
				t.Fatal(err)
			}
			wantCancelled(t, final)
			if s, f := e.staging(), e.finals(); len(s)+len(f) != 0 {
				t.Fatalf("after a remote cancel: staging %v, finals %v", s, f)
			}

			// Cancelling an operation nobody started ends it too.
			op3, err := m.Create(ctx, e.request("apps", "json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := api.Cancel(ctx, op3.GetName()); err != nil {
				t.Fatal(err)
			}
			got3, _ := m.Get(ctx, op3.GetName())
			wantCancelled(t, got3)
			_, err = m.Run(ctx, op3.GetName()) // nothing to run
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRules: Delete only done operations; unknown and malformed names;
// Wait with a timeout returns the current state.
func TestRules(t *testing.T) {
	e := newEnv(t, local, small, emulator.Options{})
	ctx := context.Background()
	m := e.manager("m")
	op, err := m.Create(ctx, e.request("apps", "json"))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, m.Delete(ctx, op.GetName()), codes.FailedPrecondition, "cancel it")
	const missing = "organizations/acme/operations/0190c1f4-7a1b-7c3d-8e4f-00000000dead"
	_, err = m.Get(ctx, missing)
	wantCode(t, err, codes.NotFound)
	wantCode(t, m.Cancel(ctx, missing), codes.NotFound)
	wantCode(t, m.Delete(ctx, missing), codes.NotFound)
	_, err = m.Run(ctx, missing)
	wantCode(t, err, codes.NotFound)
	_, err = m.Get(ctx, "operations/x")
	wantCode(t, err, codes.InvalidArgument)

	got, err := m.Wait(ctx, op.GetName(), time.Millisecond)
	if err != nil || got.GetDone() {
		t.Fatalf("Wait on an operation nobody runs = %v, %v; want it not done", got, err)
	}
	if md := metadataOf(t, got); md.GetState() != apigeepb.OperationMetadata_NOT_STARTED || md.GetProgress().GetDescription() != "waiting to start" {
		t.Fatalf("new operation metadata: %v", md)
	}

	done, err := m.Run(ctx, op.GetName())
	if err != nil {
		t.Fatal(err)
	}
	e.checkResponse(done, len(e.data.Orgs[0].Apps))
	if md := metadataOf(t, done); md.GetProgress().GetPercentDone() != 100 {
		t.Fatalf("apps report a total, so a percentage: %v", md)
	}
	if err := m.Delete(ctx, op.GetName()); err != nil {
		t.Fatal(err)
	}

	// A failed export fails its operation with the error's code.
	bad := e.request("developers", "json")
	bad.Parent = "organizations/nosuchorg"
	op2, err := m.Start(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	failed, err := m.Wait(ctx, op2.GetName(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !failed.GetDone() || failed.GetError().GetCode() != int32(codes.NotFound) {
		t.Fatalf("export of a missing organization: %v", failed)
	}
}
