package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// maxAnswer is "a few KB": what any error answer may weigh, whatever the
// size of the input it is about.
const maxAnswer = 4 << 10

// TestOversizedInputsGetShortAnswers sends every kind of input the API
// echoes in its errors at hundreds of KB (a filter, a page token, names,
// every ExportRequest field, a JSON key, a query parameter) to a real
// Manager, over REST as curl would and over gRPC with the official client.
// Each is refused with INVALID_ARGUMENT (or NOT_FOUND) in an answer of a
// few KB that still says what was wrong. (Exports are triggered over gRPC
// with the server's own Export client: there is no official one.)
func TestOversizedInputsGetShortAnswers(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Local(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := operations.New(context.Background(), operations.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base, stop := serveWithToken(t, m, "*")
	defer stop()

	big := strings.Repeat("x", 500<<10)
	bigKey := strings.Repeat("k", 900<<10)
	quoted := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	dest := quoted("file://" + t.TempDir())

	t.Run("rest", func(t *testing.T) {
		cases := []struct{ name, method, path, body string }{
			{"filter", "GET", "/v1/organizations/acme/operations?filter=" + big, ""},
			{"filter term", "GET", "/v1/organizations/acme/operations?filter=done%3D" + big, ""},
			{"page token", "GET", "/v1/organizations/acme/operations?pageToken=" + big, ""},
			{"query parameter", "GET", "/v1/organizations/acme/operations?" + big + "=1", ""},
			{"operation name", "GET", "/v1/organizations/acme/operations/" + big, ""},
			{"organization", "GET", "/v1/organizations/" + big + "/operations", ""},
			{"custom method", "POST", "/v1/organizations/acme/operations/x:" + big, "{}"},
			{"resource", "POST", "/v1/organizations/acme/" + big + ":export", "{}"},
			{"json key", "POST", "/v1/organizations/acme/developers:export", `{` + quoted(bigKey) + `:1}`},
			{"nested json key", "POST", "/v1/organizations/acme/developers:export", `{"csv":{` + quoted(bigKey) + `:1}}`},
			{"format", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"format":` + quoted(big) + `}`},
			{"compression", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"compression":` + quoted(big) + `}`},
			{"destination", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + quoted("gs://"+big) + `}`},
			{"destination folder", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + quoted("file:///"+big) + `}`},
			{"apigee url", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"apigeeUrl":` + quoted("http://"+big) + `}`},
			{"apigee url path", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"apigeeUrl":` + quoted("http://h/"+big) + `}`},
			{"csv delimiter", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"format":"csv","csv":{"delimiter":` + quoted(big) + `}}`},
			{"request id", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"requestId":` + quoted(big) + `}`},
			{"parent", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"parent":` + quoted(big) + `}`},
			{"body resource", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"resource":` + quoted(big) + `}`},
			{"number", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"maxObjectSize":` + quoted(big) + `}`},
			{"bool", "POST", "/v1/organizations/acme/developers:export", `{"destination":` + dest + `,"includeSecrets":` + big + `}`},
			{"cancel name", "POST", "/v1/organizations/acme/operations/x:cancel", `{"name":` + quoted(big) + `}`},
			{"wait timeout", "POST", "/v1/organizations/acme/operations/x:wait", `{"timeout":` + quoted(big) + `}`},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				req, err := http.NewRequest(c.method, base+escapePath(c.path), strings.NewReader(c.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+e2eToken)
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 400 || resp.StatusCode >= 500 {
					t.Errorf("status %d", resp.StatusCode)
				}
				if len(b) > maxAnswer {
					t.Fatalf("answer of %d bytes (status %d): %.300s...", len(b), resp.StatusCode, b)
				}
				var g struct{ Error struct{ Message string } }
				if json.Unmarshal(b, &g) != nil || g.Error.Message == "" {
					t.Errorf("not Google's error shape: %.300s", b)
				}
			})
		}
	})

	t.Run("grpc", func(t *testing.T) {
		c, err := lroauto.NewOperationsClient(context.Background(),
			option.WithEndpoint(strings.TrimPrefix(base, "http://")), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithGRPCDialOption(grpc.WithPerRPCCredentials(bearer(e2eToken))))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		list := func(r *longrunningpb.ListOperationsRequest) error {
			_, err := c.ListOperations(ctx, r).Next()
			return err
		}
		name := "organizations/acme/operations/" + big
		cases := []struct {
			name string
			call func() error
		}{
			{"filter", func() error {
				return list(&longrunningpb.ListOperationsRequest{Name: "organizations/acme", Filter: big})
			}},
			{"filter term", func() error {
				return list(&longrunningpb.ListOperationsRequest{Name: "organizations/acme", Filter: "done=" + big})
			}},
			{"page token", func() error {
				return list(&longrunningpb.ListOperationsRequest{Name: "organizations/acme", PageToken: big})
			}},
			{"parent", func() error { return list(&longrunningpb.ListOperationsRequest{Name: "organizations/" + big}) }},
			{"get", func() error {
				_, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name})
				return err
			}},
			{"get bad name", func() error {
				_, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: big})
				return err
			}},
			{"cancel", func() error {
				return c.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: name})
			}},
			{"delete", func() error {
				return c.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: name})
			}},
			{"wait", func() error {
				_, err := c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: name, Timeout: durationpb.New(1)})
				return err
			}},
		}
		cc, err := grpc.NewClient(strings.TrimPrefix(base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithPerRPCCredentials(bearer(e2eToken)))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ex := operationspb.NewExportServiceClient(cc)
		folder := "file://" + t.TempDir()
		for field, req := range map[string]*operationspb.ExportRequest{
			"parent":      {Parent: "organizations/" + big, Resource: "developers", Destination: folder},
			"resource":    {Parent: "organizations/acme", Resource: big, Destination: folder},
			"format":      {Parent: "organizations/acme", Resource: "developers", Destination: folder, Format: big},
			"destination": {Parent: "organizations/acme", Resource: "developers", Destination: "gs://b/" + big},
			"apigee url":  {Parent: "organizations/acme", Resource: "developers", Destination: folder, ApigeeUrl: "https://" + big},
		} {
			cases = append(cases, struct {
				name string
				call func() error
			}{"export " + field, func() error { _, err := ex.Export(ctx, req); return err }})
		}
		for _, cs := range cases {
			t.Run(cs.name, func(t *testing.T) {
				err := cs.call()
				st, ok := status.FromError(err)
				if !ok || st.Code() == codes.OK || st.Code() == codes.Unknown || st.Code() == codes.Internal {
					t.Fatalf("error %.300v", err)
				}
				if n := proto.Size(st.Proto()); n > maxAnswer {
					t.Fatalf("status of %d bytes: %.300s...", n, st.Message())
				}
			})
		}
	})
}

// escapePath escapes the path and query of p as a client would.
func escapePath(p string) string {
	path, query, _ := strings.Cut(p, "?")
	u := url.URL{Path: path}
	if query == "" {
		return u.EscapedPath()
	}
	var parts []string
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return u.EscapedPath() + "?" + strings.Join(parts, "&")
}
