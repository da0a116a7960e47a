package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning"
	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
)

// transports runs a test body once with the official gRPC client and once
// with the official REST client. listName is the List "name" each client
// must be given: the REST client sends GET /v1/{name}.
var transports = []struct {
	name     string
	client   func(h *harness, t testing.TB, token string) *lroauto.OperationsClient
	listName string
}{
	{"grpc", (*harness).grpcClient, "organizations/acme"},
	{"rest", (*harness).restClient, "organizations/acme/operations"},
}

func TestOfficialClients(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ctx := context.Background()
			h := start(t, tokenAuth(t))
			var acme []string
			for i := range 5 {
				acme = append(acme, h.ops.add("acme", "developers"))
				if i == 2 {
					h.ops.add("globex", "apps") // interleaved: must never be listed for acme
				}
			}
			globex := h.ops.add("globex", "apps")
			h.ops.finish(acme[0], 42)
			c := tr.client(h, t, acmeToken)

			t.Run("GetPollDecodes", func(t *testing.T) {
				op, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: acme[0]})
				if err != nil {
					t.Fatal(err)
				}
				lop := longrunning.InternalNewOperation(c, op)
				var md apigeepb.OperationMetadata
				if err := lop.Metadata(protoadapt.MessageV1Of(&md)); err != nil {
					t.Fatal(err)
				}
				if md.GetState() != apigeepb.OperationMetadata_FINISHED || md.GetProgress().GetPercentDone() != 100 {
					t.Errorf("metadata = %v, want FINISHED at 100%%", &md)
				}
				var resp operationspb.ExportResponse
				if err := lop.Poll(ctx, protoadapt.MessageV1Of(&resp)); err != nil {
					t.Fatal(err)
				}
				if !lop.Done() || resp.GetRecords() != 42 || resp.GetObjects()[0].GetName() != "ExportFinal_abc.json" || resp.GetStartTime().GetSeconds() != 1700000000 {
					t.Errorf("Poll: done=%v response=%v", lop.Done(), &resp)
				}

				// An unfinished one: Poll asks the server again and is not done.
				op, err = c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: acme[1]})
				if err != nil {
					t.Fatal(err)
				}
				lop = longrunning.InternalNewOperation(c, op)
				if err := lop.Poll(ctx, protoadapt.MessageV1Of(&resp)); err != nil || lop.Done() {
					t.Fatalf("Poll unfinished: done=%v err=%v", lop.Done(), err)
				}
				if err := lop.Metadata(protoadapt.MessageV1Of(&md)); err != nil || md.GetState() != apigeepb.OperationMetadata_NOT_STARTED || md.GetTargetResourceName() != "organizations/acme/developers" {
					t.Errorf("metadata = %v, %v", &md, err)
				}
			})

			t.Run("ListPages", func(t *testing.T) {
				it := c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: tr.listName, PageSize: 2})
				p := iterator.NewPager(it, 2, "")
				var names []string
				pages := 0
				for {
					var page []*longrunningpb.Operation
					tok, err := p.NextPage(&page)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					for _, op := range page {
						names = append(names, op.GetName())
					}
					if tok == "" {
						break
					}
				}
				if !slices.Equal(names, acme) {
					t.Errorf("listed %v, want %v", names, acme)
				}
				if pages < 3 {
					t.Errorf("listed in %d pages of 2, want at least 3", pages)
				}
				it = c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: tr.listName, Filter: "done=true"})
				op, err := it.Next()
				if err != nil || op.GetName() != acme[0] {
					t.Fatalf("filtered list: %v, %v", op, err)
				}
				if _, err := it.Next(); err != iterator.Done {
					t.Errorf("filtered list has more than one operation: %v", err)
				}
				// The manager's own errors pass through with their code.
				_, err = c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: tr.listName, Filter: "state=weird"}).Next()
				if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "done=true") {
					t.Errorf("bad filter: %v", err)
				}
			})

			t.Run("OtherOrganization", func(t *testing.T) {
				// Listing globex with an acme token: nothing.
				name := strings.Replace(tr.listName, "acme", "globex", 1)
				if op, err := c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: name}).Next(); err != iterator.Done {
					t.Errorf("listing globex with an acme token gave %v, %v", op, err)
				}
				_, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: globex})
				_, errUnknown := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: "organizations/acme/operations/nope"})
				for _, e := range []error{err, errUnknown} {
					if status.Code(e) != codes.NotFound {
						t.Errorf("got %v, want NotFound", e)
					}
				}
				// Same message, whether hidden or missing; the store's path never leaks.
				if got, want := status.Convert(err).Message(), `operation "`+globex+`" not found`; got != want {
					t.Errorf("message %q, want %q", got, want)
				}
				if m := status.Convert(errUnknown).Message(); strings.Contains(m, "secret") {
					t.Errorf("manager's NOT_FOUND message leaked: %q", m)
				}
				if err := c.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: globex}); status.Code(err) != codes.NotFound {
					t.Errorf("cancel globex: %v", err)
				}
				if err := c.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: globex}); status.Code(err) != codes.NotFound {
					t.Errorf("delete globex: %v", err)
				}
				for _, call := range h.ops.Calls() {
					if strings.Contains(call, "globex") {
						t.Errorf("manager saw %q from an acme caller", call)
					}
				}
			})

			t.Run("CancelDelete", func(t *testing.T) {
				if err := c.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: acme[1]}); err != nil {
					t.Fatal(err)
				}
				op, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: acme[1]})
				if err != nil {
					t.Fatal(err)
				}
				if !op.GetDone() || op.GetError().GetCode() != int32(codes.Canceled) {
					t.Errorf("after cancel: %v", op)
				}
				err = longrunning.InternalNewOperation(c, op).Poll(ctx, nil)
				var ae *apierror.APIError
				if !errors.As(err, &ae) || ae.GRPCStatus().Code() != codes.Canceled {
					t.Errorf("Poll of a cancelled operation: %v", err)
				}

				if err := c.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: acme[2]}); err != nil {
					t.Fatal(err)
				}
				if _, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: acme[2]}); status.Code(err) != codes.NotFound {
					t.Errorf("get after delete: %v", err)
				}
				if err := c.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: acme[2]}); status.Code(err) != codes.NotFound {
					t.Errorf("delete twice: %v", err)
				}
			})

			t.Run("BadName", func(t *testing.T) {
				_, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: "organizations/acme/developers/x"})
				if status.Code(err) != codes.InvalidArgument && status.Code(err) != codes.NotFound {
					t.Errorf("bad name: %v", err)
				}
			})

			t.Run("Unauthenticated", func(t *testing.T) {
				for _, tok := range []string{"", "wrong-token-0123456789abcdef"} {
					_, err := tr.client(h, t, tok).GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: acme[0]})
					if status.Code(err) != codes.Unauthenticated {
						t.Errorf("token %q: %v, want Unauthenticated", tok, err)
					}
				}
			})

			t.Run("StarToken", func(t *testing.T) {
				c := tr.client(h, t, starToken)
				if _, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: globex}); err != nil {
					t.Errorf("* token cannot read globex: %v", err)
				}
			})
		})
	}
}

// TestGRPCWaitOperation: WaitOperation over gRPC returns once the operation
// ends (the REST client's WaitOperation is broken, see notes: it polls).
func TestGRPCWaitOperation(t *testing.T) {
	ctx := context.Background()
	h := start(t, tokenAuth(t))
	name := h.ops.add("acme", "apps")
	// Finish it only once the manager's Wait has been entered, so the call
	// really waits.
	h.ops.onWait = func(n string) {
		if n == name {
			h.ops.finish(n, 7)
		}
	}
	c := h.grpcClient(t, acmeToken)
	op, err := c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if !op.GetDone() || op.GetResponse() == nil {
		t.Errorf("WaitOperation returned %v", op)
	}
	// A short timeout on an unfinished operation returns it unfinished.
	other := h.ops.add("acme", "apps")
	op, err = c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: other, Timeout: durationMillis(20)})
	if err != nil || op.GetDone() {
		t.Errorf("WaitOperation with timeout: %v, %v", op, err)
	}
	if _, err := c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: other, Timeout: durationMillis(-5)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("negative timeout: %v", err)
	}
	if _, err := h.grpcClient(t, globexToken).WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: other}); status.Code(err) != codes.NotFound {
		t.Errorf("wait on another org's operation: %v", err)
	}
}

func durationMillis(ms int) *durationpb.Duration {
	return durationpb.New(time.Duration(ms) * time.Millisecond)
}

// TestTokenSourceOption: both official clients also send a token from
// option.WithTokenSource over plaintext (what a CLI would use with
// oauth2.StaticTokenSource), without a custom transport.
func TestTokenSourceOption(t *testing.T) {
	ctx := context.Background()
	h := start(t, tokenAuth(t))
	name := h.ops.add("acme", "apps")
	ts := option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: acmeToken}))
	g, err := lroauto.NewOperationsClient(ctx, option.WithEndpoint(h.addr), ts,
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	r, err := lroauto.NewOperationsRESTClient(ctx, option.WithEndpoint(h.url), ts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []*lroauto.OperationsClient{g, r} {
		if op, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}); err != nil || op.GetName() != name {
			t.Errorf("Get with a token source: %v, %v", op, err)
		}
	}
}
