package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
)

func TestGRPCExport(t *testing.T) {
	ctx := context.Background()
	h := start(t, tokenAuth(t))
	c := operationspb.NewExportServiceClient(h.grpcConn(t, acmeToken))
	req := &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apiproducts", Destination: "file:///tmp/x", Format: "parquet"}

	op, err := c.Export(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var md apigeepb.OperationMetadata
	if !strings.HasPrefix(op.GetName(), "organizations/acme/operations/") || op.GetMetadata().UnmarshalTo(&md) != nil ||
		md.GetTargetResourceName() != "organizations/acme/apiproducts" {
		t.Errorf("Export returned %v", op)
	}
	if got := h.ops.lastStarted(); !proto.Equal(got, req) {
		t.Errorf("manager got %v, want %v", got, req)
	}
	// The operation it started is readable through the Operations service.
	if got, err := h.grpcClient(t, acmeToken).GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: op.GetName()}); err != nil || got.GetName() != op.GetName() {
		t.Errorf("Get of the started operation: %v, %v", got, err)
	}

	for _, tc := range []struct {
		name  string
		c     operationspb.ExportServiceClient
		req   *operationspb.ExportRequest
		code  codes.Code
		inMsg string
	}{
		{"other org", c, &operationspb.ExportRequest{Parent: "organizations/globex", Resource: "apps", Destination: "gs://b/p"}, codes.PermissionDenied, "organizations/globex"},
		{"bad parent", c, &operationspb.ExportRequest{Parent: "acme", Destination: "gs://b/p"}, codes.InvalidArgument, "organizations/{org}"},
		{"unknown collection", c, &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "users", Destination: "gs://b/p"}, codes.NotFound, "developers, apps or apiproducts"},
		{"manager refuses", c, &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps"}, codes.InvalidArgument, "destination is required"},
		{"no token", operationspb.NewExportServiceClient(h.grpcConn(t, "")), req, codes.Unauthenticated, "Bearer"},
		{"bad token", operationspb.NewExportServiceClient(h.grpcConn(t, "nope-nope-nope-nope-nope")), req, codes.Unauthenticated, "invalid bearer token"},
	} {
		_, err := tc.c.Export(ctx, tc.req)
		if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.inMsg) {
			t.Errorf("%s: %v, want %v mentioning %q", tc.name, err, tc.code, tc.inMsg)
		}
	}

	// A request larger than MaxRequestBytes is refused by gRPC itself.
	big := proto.CloneOf(req)
	big.Destination = "gs://b/" + strings.Repeat("p", DefaultMaxRequestBytes)
	if _, err := c.Export(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("huge request: %v", err)
	}
}

// TestHandlerOnPlainServer: Handler() serves gRPC and REST on a server of
// the caller's own (httptest) that speaks unencrypted HTTP/2 as its doc
// says, without the deprecated x/net h2c wrapper.
func TestHandlerOnPlainServer(t *testing.T) {
	ops := newMemOps()
	s := New(ops, Options{Auth: tokenAuth(t)})
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetHTTP1(true)
	ts.Config.Protocols.SetUnencryptedHTTP2(true)
	ts.Start()
	defer ts.Close()
	name := ops.add("acme", "apps")
	h := &harness{ops: ops, srv: s, addr: strings.TrimPrefix(ts.URL, "http://"), url: ts.URL}

	if op, err := h.grpcClient(t, acmeToken).GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: name}); err != nil || op.GetName() != name {
		t.Errorf("gRPC over unencrypted HTTP/2: %v, %v", op, err)
	}
	h.do(t, "GET", "/v1/"+name, acmeToken, "").want200(t)
}

// TestServeShutdown: cancelling Serve's context ends a WaitOperation that
// would otherwise wait for MaxWait (an hour here) with the operation's
// current state, and Serve returns nil.
func TestServeShutdown(t *testing.T) {
	l := listen(t)
	ops := newMemOps()
	name := ops.add("acme", "apps")
	entered := make(chan struct{})
	ops.onWait = func(string) { close(entered) }
	s := New(ops, Options{Auth: NoAuth(), MaxWait: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()

	h := &harness{ops: ops, srv: s, addr: l.Addr().String(), url: "http://" + l.Addr().String()}
	c := h.grpcClient(t, "")
	waited := make(chan error, 1)
	var got *longrunningpb.Operation
	go func() {
		var err error
		got, err = c.WaitOperation(context.Background(), &longrunningpb.WaitOperationRequest{Name: name})
		waited <- err
	}()
	<-entered
	cancel()
	if err := <-waited; err != nil {
		t.Fatalf("WaitOperation during shutdown: %v", err)
	}
	if got.GetName() != name || got.GetDone() {
		t.Errorf("WaitOperation during shutdown returned %v, want the running operation", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestGRPCOptionsInterceptorOrder: what Options.GRPCOptions says about
// interceptors holds. A chained interceptor runs after authentication and
// sees the caller; a grpc.UnaryInterceptor runs before it, without one,
// and even for calls that authentication refuses.
func TestGRPCOptionsInterceptorOrder(t *testing.T) {
	type seen struct{ single, chained []bool } // caller present, per call
	var mu sync.Mutex
	var got seen
	single := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		mu.Lock()
		got.single = append(got.single, CallerFrom(ctx) != nil)
		mu.Unlock()
		return next(ctx, req)
	}
	chained := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		mu.Lock()
		got.chained = append(got.chained, CallerFrom(ctx) != nil)
		mu.Unlock()
		return next(ctx, req)
	}
	h := start(t, tokenAuth(t), func(o *Options) {
		o.GRPCOptions = []grpc.ServerOption{grpc.UnaryInterceptor(single), grpc.ChainUnaryInterceptor(chained)}
	})
	name := h.ops.add("acme", "apps")
	if _, err := h.grpcClient(t, acmeToken).GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.grpcClient(t, "wrong-token-0123456789abcdef").GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: name}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong token: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []bool{false, false}; !slices.Equal(got.single, want) {
		t.Errorf("grpc.UnaryInterceptor saw a caller %v, want %v (it runs before authentication, for every call)", got.single, want)
	}
	if want := []bool{true}; !slices.Equal(got.chained, want) {
		t.Errorf("grpc.ChainUnaryInterceptor saw a caller %v, want %v (it runs after authentication, for accepted calls)", got.chained, want)
	}
}
