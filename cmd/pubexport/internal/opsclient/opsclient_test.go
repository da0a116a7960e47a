package opsclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/operations/operationspb"
)

func TestDialRejects(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://h", "http://h/v1", "http://h?x=1", "grpc://"} {
		if _, err := Dial(t.Context(), u, ""); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "--server") {
			t.Errorf("Dial(%q) = %v", u, err)
		}
	}
}

// TestExportREST checks the trigger's request (path, body, token) and the
// decoding of Google's error body against a plain HTTP server.
func TestExportREST(t *testing.T) {
	var gotPath, gotAuth, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.Path, r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "apiproducts") {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":403,"message":"token may not export organization \"acme\"","status":"PERMISSION_DENIED"}}`))
			return
		}
		if strings.Contains(r.URL.Path, "apps") {
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte(`<html>bad gateway</html>`))
			return
		}
		w.Write([]byte(`{"name":"organizations/acme/operations/1","done":false}`))
	}))
	defer srv.Close()
	c, err := Dial(t.Context(), srv.URL, "tok-123")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	op, err := c.Export(t.Context(), &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "developers", Format: "csv"})
	if err != nil || op.GetName() != "organizations/acme/operations/1" {
		t.Fatalf("Export = %v, %v", op, err)
	}
	if gotPath != "/v1/organizations/acme/developers:export" || gotAuth != "Bearer tok-123" || !strings.Contains(gotBody, `"format":"csv"`) {
		t.Errorf("request: %s %q %s", gotPath, gotAuth, gotBody)
	}
	_, err = c.Export(t.Context(), &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apiproducts"})
	if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != `token may not export organization "acme"` {
		t.Errorf("403: %v", err)
	}
	_, err = c.Export(t.Context(), &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps"})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "HTTP 502") {
		t.Errorf("502: %v", err)
	}
}

// TestExportRESTKeepsDetails: the details of a REST error (a BadRequest
// naming the field to fix) survive decoding, so that the command line can
// call the field by its flag.
func TestExportRESTKeepsDetails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":{"code":403,"message":"apigeeUrl: not allowed","status":"PERMISSION_DENIED","details":[` +
			`{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"apigeeUrl","description":"not allowed"}]},` +
			`{"@type":"type.googleapis.com/example.Unknown","x":1}]}}`))
	}))
	defer srv.Close()
	c, err := Dial(t.Context(), srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Export(t.Context(), &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "developers"})
	st := status.Convert(err)
	if st.Code() != codes.PermissionDenied || st.Message() != "apigeeUrl: not allowed" {
		t.Fatalf("got %v", err)
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if len(st.Details()) != 1 || len(fields) != 1 || fields[0] != "apigeeUrl" {
		t.Errorf("details %v, want one BadRequest naming apigeeUrl", st.Details())
	}
}
