package server

import (
	"context"
	"sync"
	"testing"

	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestSharedOperationsStayUnchanged: the server may be answered with
// operations shared between calls (*operations.Manager decodes an unchanged
// record once), so it must never change one, whichever method and
// transport serves it, however many at once (under -race, a write among
// the concurrent reads is reported even when the bytes come out the same).
func TestSharedOperationsStayUnchanged(t *testing.T) {
	h := start(t, tokenAuth(t))
	h.ops.share()
	running := h.ops.add("acme", "apps")
	finished := h.ops.add("acme", "developers")
	h.ops.finish(finished, 1000)
	ctx := context.Background()
	before := map[string]*longrunningpb.Operation{}
	for _, name := range []string{running, finished} {
		op, err := h.ops.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = op
	}
	want := map[string]*longrunningpb.Operation{}
	for name, op := range before {
		want[name] = cloneOp(op)
	}

	clients := map[string]*lroauto.OperationsClient{"gRPC": h.grpcClient(t, acmeToken), "REST": h.restClient(t, acmeToken)}
	grpcc := h.grpcClient(t, acmeToken)
	var wg sync.WaitGroup
	for transport, c := range clients {
		for range 4 {
			wg.Go(func() {
				for range 25 {
					for _, name := range []string{running, finished} {
						op, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name})
						if err != nil || !proto.Equal(op, want[name]) {
							t.Errorf("%s GetOperation %s = %v, %v; want %v", transport, name, op, err, want[name])
							return
						}
					}
				}
			})
		}
	}
	wg.Go(func() {
		for range 25 {
			it := grpcc.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: "organizations/acme/operations"})
			for op, err := range it.All() {
				if err != nil {
					t.Errorf("ListOperations: %v", err)
					return
				}
				if !proto.Equal(op, want[op.GetName()]) {
					t.Errorf("ListOperations: %v, want %v", op, want[op.GetName()])
				}
			}
			op, err := grpcc.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: finished, Timeout: durationpb.New(0)})
			if err != nil || !proto.Equal(op, want[finished]) {
				t.Errorf("WaitOperation = %v, %v; want %v", op, err, want[finished])
			}
		}
	})
	wg.Wait()
	for name, op := range before {
		if !proto.Equal(op, want[name]) {
			t.Errorf("the server changed the operation it was given: %v, was %v", op, want[name])
		}
	}
}
