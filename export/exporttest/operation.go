package exporttest

import (
	"context"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"

	"pubexport/export/apigee/apigeepb"
)

// Getter reads an operation: an operations.Manager, a queue, or a client
// of the polling API.
type Getter interface {
	Get(ctx context.Context, name string) (*longrunningpb.Operation, error)
}

// Done polls operation name until it is done and returns it. Like
// Eventually it has no deadline of its own; a Get error fails the test at
// once.
func Done(t testing.TB, g Getter, name string) *longrunningpb.Operation {
	t.Helper()
	var op *longrunningpb.Operation
	Eventually(t, name+" to end", func() bool {
		var err error
		op, err = g.Get(t.Context(), name)
		if err != nil {
			t.Fatalf("polling %s: %v", name, err)
			return true // for a t whose Fatalf returns
		}
		return op.GetDone()
	})
	return op
}

// Metadata decodes op's metadata, failing the test if it is not Apigee's
// OperationMetadata.
func Metadata(t testing.TB, op *longrunningpb.Operation) *apigeepb.OperationMetadata {
	t.Helper()
	md := new(apigeepb.OperationMetadata)
	if err := op.GetMetadata().UnmarshalTo(md); err != nil {
		t.Fatalf("metadata of %s: %v", op.GetName(), err)
	}
	return md
}
