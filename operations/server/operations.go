package server

import (
	"context"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"

	"pubexport/operations/operationspb"
)

// Operations is what the server needs from the operation manager
// (*operations.Manager satisfies it). Errors should carry gRPC codes
// (google.golang.org/grpc/status); the server passes them on to clients with
// the code intact and maps the code to an HTTP status for REST.
//
// The server checks names and authorization before it calls any method, so an
// implementation never sees a request for an organization the caller may not
// see. It does not re-check what the implementation returns beyond making
// sure listed operations belong to the listed organization.
//
// The server never changes an operation it is given, so an implementation
// may answer with operations it shares between calls (*operations.Manager
// does, to answer polls of an unchanged record without decoding it again).
type Operations interface {
	// Start validates req, records a new operation and starts it in the
	// background; it returns the operation at once.
	Start(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error)
	// Get returns the latest state of the operation called name
	// ("organizations/{org}/operations/{id}").
	Get(ctx context.Context, name string) (*longrunningpb.Operation, error)
	// List returns a page of the operations of parent ("organizations/{org}")
	// and the token of the next page ("" after the last one).
	List(ctx context.Context, parent, filter string, pageSize int32, pageToken string) ([]*longrunningpb.Operation, string, error)
	// Cancel asks the operation to stop; it ends with code CANCELLED.
	Cancel(ctx context.Context, name string) error
	// Delete forgets a finished operation.
	Delete(ctx context.Context, name string) error
	// Wait returns once the operation is done or timeout has passed, with the
	// operation's latest state either way. When ctx ends first (the server
	// is shutting down) it may return the latest state, as
	// *operations.Manager does, or ctx's error: the server then answers
	// with Get's state instead.
	Wait(ctx context.Context, name string, timeout time.Duration) (*longrunningpb.Operation, error)
}
