package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// start serves d on loopback for one test.
func start(t *testing.T, d *Data, o Options) *Server {
	t.Helper()
	s, err := Start(d, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// response is one answer as a plain client sees it.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// obj decodes the body as a JSON object.
func (r response) obj(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// googleError checks the body is Google's error shape with code and status.
func (r response) googleError(t *testing.T, code int, status string) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	if r.code != code || e.Error.Code != code || e.Error.Status != status || e.Error.Message == "" {
		t.Fatalf("got HTTP %d %s, want %d %s in Google's error shape", r.code, r.body, code, status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	return e.Error.Message
}

func do(t *testing.T, method, u, contentType string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: res.StatusCode, header: res.Header, body: b}
}

func get(t *testing.T, u string) response { return do(t, http.MethodGet, u, "", nil) }

// ok fails unless the answer is 200 and returns the body object.
func (r response) ok(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.code, r.body)
	}
	return r.obj(t)
}

// items decodes a list field into raw items.
func items(t *testing.T, m map[string]json.RawMessage, field string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	if raw, ok := m[field]; ok {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: %v", field, err)
		}
	}
	return out
}

// keysOf reads the one field of expand=false items, checking there is only it.
func keysOf(t *testing.T, list []json.RawMessage, field string) []string {
	t.Helper()
	var out []string
	for _, raw := range list {
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 || m[field] == "" {
			t.Fatalf("item %s is not {%q: key}", raw, field)
		}
		out = append(out, m[field])
	}
	return out
}

func str(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is not a string: %v", raw, err)
	}
	return s
}

func decode[M proto.Message](t *testing.T, raw []byte, m M) M {
	t.Helper()
	if err := protojson.Unmarshal(raw, m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return m
}

func orgURL(s *Server, org string) string { return s.URL + "/v1/organizations/" + url.PathEscape(org) }

func decodeJSON(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}
