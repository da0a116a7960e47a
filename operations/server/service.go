package server

import (
	"context"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/apigee"
	"pubexport/operations"
	"pubexport/operations/operationspb"
)

// collections are the resources an export can be triggered for (the
// Manager validates the rest of the request in depth).
var collections = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range apigee.Resources() {
		m[string(r)] = true
	}
	return m
}()

// resourceNames lists the collections for messages.
var resourceNames = func() string {
	var names []string
	for _, r := range apigee.Resources() {
		names = append(names, string(r))
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}()

// service is the transport-independent core: it checks names and the
// caller's organizations, then calls the manager. gRPC and REST handlers are
// thin adapters around it.
type service struct {
	ops     Operations
	maxWait time.Duration
	// drain is cancelled when the server starts shutting down, so that long
	// WaitOperation calls return the current state instead of holding the
	// shutdown up.
	drain context.Context
}

func callerOf(ctx context.Context) (*Caller, error) {
	c := CallerFrom(ctx)
	if c == nil {
		// Only reachable by a wiring bug; failing closed keeps it harmless.
		return nil, status.Error(codes.Unauthenticated, "request has no authenticated caller")
	}
	return c, nil
}

// notFound is the one answer for an operation that does not exist and for
// one the caller may not see, so the two cannot be told apart.
func notFound(name string) error {
	return status.Errorf(codes.NotFound, "operation %q not found", truncate(name))
}

// hideNotFound replaces the manager's NOT_FOUND message with notFound's.
func hideNotFound(name string, err error) error {
	if status.Code(err) == codes.NotFound {
		return notFound(name)
	}
	return err
}

// authorize checks name and that the caller covers its organization.
func authorize(ctx context.Context, name string) error {
	org, _, err := operationName(name)
	if err != nil {
		return err
	}
	c, err := callerOf(ctx)
	if err != nil {
		return err
	}
	if !c.Covers(org) {
		return notFound(name)
	}
	return nil
}

// checkReturned guards against a manager answering with another operation.
func checkReturned(name string, op *longrunningpb.Operation) (*longrunningpb.Operation, error) {
	if op == nil || op.GetName() != name {
		return nil, status.Errorf(codes.Internal, "operation manager answered a request for %q with operation %q", name, op.GetName())
	}
	return op, nil
}

func (s *service) get(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	if err := authorize(ctx, name); err != nil {
		return nil, err
	}
	op, err := s.ops.Get(ctx, name)
	if err != nil {
		return nil, hideNotFound(name, err)
	}
	return checkReturned(name, op)
}

func (s *service) list(ctx context.Context, parent, filter string, pageSize int32, pageToken string) ([]*longrunningpb.Operation, string, error) {
	org, err := listParent(parent)
	if err != nil {
		return nil, "", err
	}
	if pageSize < 0 {
		return nil, "", status.Errorf(codes.InvalidArgument, "page_size %d is negative: use 0 for the server's default", pageSize)
	}
	c, err := callerOf(ctx)
	if err != nil {
		return nil, "", err
	}
	if !c.Covers(org) {
		// Indistinguishable from an organization without operations.
		return nil, "", nil
	}
	ops, next, err := s.ops.List(ctx, "organizations/"+org, filter, pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	kept := ops[:0:0]
	for _, op := range ops {
		if orgOf(op.GetName()) == org {
			kept = append(kept, op)
		}
	}
	return kept, next, nil
}

func (s *service) cancel(ctx context.Context, name string) error {
	if err := authorize(ctx, name); err != nil {
		return err
	}
	return hideNotFound(name, s.ops.Cancel(ctx, name))
}

func (s *service) delete(ctx context.Context, name string) error {
	if err := authorize(ctx, name); err != nil {
		return err
	}
	return hideNotFound(name, s.ops.Delete(ctx, name))
}

// wait waits up to timeout (0: the server's maximum; longer: capped to it).
func (s *service) wait(ctx context.Context, name string, timeout time.Duration) (*longrunningpb.Operation, error) {
	if err := authorize(ctx, name); err != nil {
		return nil, err
	}
	if timeout < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "timeout %v is negative", timeout)
	}
	if timeout == 0 || timeout > s.maxWait {
		timeout = s.maxWait
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.drain != nil {
		stop := context.AfterFunc(s.drain, cancel)
		defer stop()
	}
	op, err := s.ops.Wait(wctx, name, timeout)
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		// The server is shutting down and the implementation answered with
		// the context's error (*operations.Manager answers with the state
		// instead, so this is for other implementations, such as wrappers
		// that forward elsewhere): answer with the state as it is.
		op, err = s.ops.Get(ctx, name)
	}
	if err != nil {
		return nil, hideNotFound(name, err)
	}
	return checkReturned(name, op)
}

func (s *service) export(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "missing ExportRequest")
	}
	org, err := exportParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	if !collections[req.GetResource()] {
		// The collection is a path segment on REST: one that names
		// nothing is NOT_FOUND there, and so on gRPC too.
		return nil, status.Errorf(codes.NotFound, "cannot export %q: want %s", truncate(req.GetResource()), resourceNames)
	}
	c, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Covers(org) {
		return nil, status.Errorf(codes.PermissionDenied, "the credential used does not cover organizations/%s: ask for a token granting it", org)
	}
	op, err := s.ops.Start(ctx, req)
	if err != nil {
		// A value the libraries refused is pointed at by its request field.
		if st := operations.ErrorStatus(err); len(st.Details()) > 0 {
			return nil, st.Err()
		}
		return nil, err
	}
	if orgOf(op.GetName()) != org {
		return nil, status.Errorf(codes.Internal, "operation manager started operation %q for parent %q", op.GetName(), req.GetParent())
	}
	return op, nil
}
