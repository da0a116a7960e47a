package opsclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
