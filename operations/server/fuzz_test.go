package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
)

// FuzzRESTRequest sends arbitrary REST requests (with an acme-only token)
// and checks that every answer is JSON, every error is in Google's shape
// with a code that matches the HTTP status, and no successful answer shows
// globex's operation. Seeds: testdata/fuzz/FuzzRESTRequest.
func FuzzRESTRequest(f *testing.F) {
	ops := newMemOps()
	ops.add("acme", "developers")
	ops.add("acme", "apps")
	globex := ops.add("globex", "apps")
	ops.finish("organizations/acme/operations/op-0001", 5)
	s := New(ops, Options{Auth: tokenAuth(f), MaxWait: time.Millisecond, MaxRequestBytes: 4096})
	h := s.rest

	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		req, err := http.NewRequest(method, "http://pubexport.test"+target, bytes.NewReader(body))
		if err != nil || req.URL.Path == "" || req.URL.Path[0] != '/' {
			t.Skip()
		}
		req.RequestURI = req.URL.RequestURI()
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		b := w.Body.Bytes()
		if w.Code == http.StatusMovedPermanently || w.Code == http.StatusTemporaryRedirect {
			return // ServeMux cleaning "//" or "/./" in the path
		}
		if !json.Valid(b) {
			t.Fatalf("%s %s: HTTP %d answered with invalid JSON %q", method, target, w.Code, b)
		}
		if w.Code == http.StatusOK {
			if strings.Contains(string(b), globex) {
				t.Fatalf("%s %s: an acme caller was shown %s: %s", method, target, globex, b)
			}
			return
		}
		var e struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Status  string `json:"status"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != w.Code || e.Error.Message == "" {
			t.Fatalf("%s %s: HTTP %d answered %s, not Google's error shape", method, target, w.Code, b)
		}
		if _, ok := code.Code_value[e.Error.Status]; !ok || e.Error.Status == "OK" {
			t.Fatalf("%s %s: status %q is not a google.rpc.Code name", method, target, e.Error.Status)
		}
		if w.Code >= 500 {
			t.Fatalf("%s %s: server error %s", method, target, b)
		}
	})
}
