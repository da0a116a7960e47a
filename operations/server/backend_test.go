package server

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
)

// memOps is an in-memory Operations for these tests: the real Manager lives
// in package operations and is exercised end to end by the lead's tests.
type memOps struct {
	mu      sync.Mutex
	ops     map[string]*longrunningpb.Operation
	order   []string                 // creation order, for List
	done    map[string]chan struct{} // closed when the operation ends
	next    int
	started []*operationspb.ExportRequest
	calls   []string // every method call as "Method name", to prove refused calls never arrive
	// onWait, if set before the server starts, runs when Wait begins.
	onWait func(name string)
	// shared: Get, List and Wait answer with the operations themselves,
	// not copies, as *operations.Manager does (see share).
	shared bool
}

// share makes Get, List and Wait answer with the operations memOps holds,
// not copies, as *operations.Manager does for unchanged records. memOps
// never changes an operation it has handed out; it replaces it.
func (m *memOps) share() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shared = true
}

// out is op as the caller gets it: op itself when shared, else a copy.
// Called with mu held.
func (m *memOps) out(op *longrunningpb.Operation) *longrunningpb.Operation {
	if m.shared {
		return op
	}
	return cloneOp(op)
}

func newMemOps() *memOps {
	return &memOps{ops: map[string]*longrunningpb.Operation{}, done: map[string]chan struct{}{}}
}

func (m *memOps) record(call string) {
	m.calls = append(m.calls, call)
}

// lastStarted returns the request of the last Start.
func (m *memOps) lastStarted() *operationspb.ExportRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.started) == 0 {
		return nil
	}
	return m.started[len(m.started)-1]
}

// Calls returns the calls made so far.
func (m *memOps) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// add records a NOT_STARTED operation in org and returns its name.
func (m *memOps) add(org, resource string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	name := fmt.Sprintf("organizations/%s/operations/op-%04d", org, m.next)
	md, err := anypb.New(&apigeepb.OperationMetadata{
		State:              apigeepb.OperationMetadata_NOT_STARTED.Enum(),
		TargetResourceName: new(fmt.Sprintf("organizations/%s/%s", org, resource)),
	})
	if err != nil {
		panic(err)
	}
	m.ops[name] = &longrunningpb.Operation{Name: name, Metadata: md}
	m.order = append(m.order, name)
	m.done[name] = make(chan struct{})
	return name
}

// finish ends an operation successfully with an ExportResponse.
func (m *memOps) finish(name string, records int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := cloneOp(m.ops[name]) // the old one may be shared
	m.ops[name] = op
	md, _ := anypb.New(&apigeepb.OperationMetadata{
		State:              apigeepb.OperationMetadata_FINISHED.Enum(),
		TargetResourceName: new(strings.TrimSuffix(name, name[strings.LastIndex(name, "/operations/"):]) + "/developers"),
		Progress:           &apigeepb.OperationMetadataProgress{PercentDone: new(int32(100)), Description: new("done")},
	})
	resp, _ := anypb.New(&operationspb.ExportResponse{
		Records:   records,
		Objects:   []*operationspb.ExportObject{{Name: "ExportFinal_abc.json", Uri: "file:///tmp/ExportFinal_abc.json", Records: records}},
		StartTime: timestamppb.New(time.Unix(1700000000, 0)),
	})
	op.Metadata, op.Done, op.Result = md, true, &longrunningpb.Operation_Response{Response: resp}
	close(m.done[name])
}

func (m *memOps) Start(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	if req.GetDestination() == "" {
		return nil, status.Error(codes.InvalidArgument, "destination is required: give gs://BUCKET/PREFIX or file:///DIR")
	}
	org := strings.TrimPrefix(req.GetParent(), "organizations/")
	name := m.add(org, req.GetResource())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record("Start " + name)
	m.started = append(m.started, req)
	return cloneOp(m.ops[name]), nil
}

func (m *memOps) Get(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record("Get " + name)
	op, ok := m.ops[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "store has no record at /secret/store/path/%s", name)
	}
	return m.out(op), nil
}

func (m *memOps) List(ctx context.Context, parent, filter string, pageSize int32, pageToken string) ([]*longrunningpb.Operation, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record("List " + parent)
	var want func(*longrunningpb.Operation) bool
	switch filter {
	case "":
		want = func(*longrunningpb.Operation) bool { return true }
	case "done=true", "done=false":
		d := filter == "done=true"
		want = func(op *longrunningpb.Operation) bool { return op.GetDone() == d }
	default:
		return nil, "", status.Errorf(codes.InvalidArgument, "filter %q not supported: use done=true or done=false", filter)
	}
	start := 0
	if pageToken != "" {
		n, err := strconv.Atoi(pageToken)
		if err != nil {
			return nil, "", status.Errorf(codes.InvalidArgument, "bad page token %q", pageToken)
		}
		start = n
	}
	if pageSize == 0 {
		pageSize = 100
	}
	var out []*longrunningpb.Operation
	i := start
	for ; i < len(m.order) && len(out) < int(pageSize); i++ {
		op := m.ops[m.order[i]]
		if op != nil && strings.HasPrefix(op.Name, parent+"/operations/") && want(op) {
			out = append(out, m.out(op))
		}
	}
	next := ""
	if i < len(m.order) {
		next = strconv.Itoa(i)
	}
	return out, next, nil
}

func (m *memOps) Cancel(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record("Cancel " + name)
	op, ok := m.ops[name]
	if !ok {
		return status.Errorf(codes.NotFound, "store has no record at /secret/store/path/%s", name)
	}
	if !op.Done {
		op = cloneOp(op) // the old one may be shared
		m.ops[name] = op
		op.Done = true
		op.Result = &longrunningpb.Operation_Error{Error: &statuspb.Status{Code: int32(codes.Canceled), Message: "export cancelled by request"}}
		close(m.done[name])
	}
	return nil
}

func (m *memOps) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record("Delete " + name)
	if _, ok := m.ops[name]; !ok {
		return status.Errorf(codes.NotFound, "store has no record at /secret/store/path/%s", name)
	}
	delete(m.ops, name)
	return nil
}

func (m *memOps) Wait(ctx context.Context, name string, timeout time.Duration) (*longrunningpb.Operation, error) {
	m.mu.Lock()
	m.record("Wait " + name)
	done, ok := m.done[name]
	m.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "store has no record at /secret/store/path/%s", name)
	}
	if m.onWait != nil {
		m.onWait(name)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return m.Get(ctx, name)
}

func cloneOp(op *longrunningpb.Operation) *longrunningpb.Operation {
	return proto.CloneOf(op)
}
