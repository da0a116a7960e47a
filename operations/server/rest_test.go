package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
)

type reply struct {
	status int
	header http.Header
	body   []byte
	closed bool // the server closes the connection after the answer
}

// do sends one raw HTTP request, as curl would.
func (h *harness) do(t *testing.T, method, path, token, body string) reply {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b, resp.Close}
}

// googleError is Google's JSON error shape, decoded strictly.
type googleError struct {
	Error struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Status  string            `json:"status"`
		Details []json.RawMessage `json:"details"`
	} `json:"error"`
}

// wantError checks r is an error of HTTP status hs and status name st in
// Google's shape, and returns it.
func (r reply) wantError(t *testing.T, hs int, st string) googleError {
	t.Helper()
	var e googleError
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("body %s is not Google's error shape: %v", r.body, err)
	}
	if r.status != hs || e.Error.Code != hs || e.Error.Status != st || e.Error.Message == "" {
		t.Errorf("got HTTP %d %s, want HTTP %d with code %d status %s", r.status, r.body, hs, hs, st)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	return e
}

// fieldViolation returns the field of the BadRequest detail of e, if any.
func (e googleError) fieldViolation(t *testing.T) string {
	t.Helper()
	for _, d := range e.Error.Details {
		var br struct {
			Type            string `json:"@type"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		}
		if json.Unmarshal(d, &br) == nil && br.Type == "type.googleapis.com/google.rpc.BadRequest" && len(br.FieldViolations) > 0 {
			return br.FieldViolations[0].Field
		}
	}
	return ""
}

func (r reply) want200(t *testing.T) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d: %s", r.status, r.body)
	}
}

func TestRESTPaths(t *testing.T) {
	h := start(t, tokenAuth(t))
	a1 := h.ops.add("acme", "developers")
	a2 := h.ops.add("acme", "apps")
	a3 := h.ops.add("acme", "apiproducts")
	h.ops.finish(a1, 3)

	t.Run("Get", func(t *testing.T) {
		r := h.do(t, "GET", "/v1/"+a1, acmeToken, "")
		r.want200(t)
		var op longrunningpb.Operation
		if err := protojson.Unmarshal(r.body, &op); err != nil {
			t.Fatal(err)
		}
		if op.GetName() != a1 || !op.GetDone() {
			t.Errorf("got %v", &op)
		}
		for _, want := range []string{
			`"@type":"type.googleapis.com/google.cloud.apigee.v1.OperationMetadata"`,
			`"@type":"type.googleapis.com/pubexport.v1.ExportResponse"`,
			`"state":"FINISHED"`,
		} {
			if !strings.Contains(strings.ReplaceAll(string(r.body), " ", ""), want) {
				t.Errorf("body lacks %s: %s", want, r.body)
			}
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		pretty := h.do(t, "GET", "/v1/"+a1+"?prettyPrint=true&alt=json", acmeToken, "")
		pretty.want200(t)
		if !strings.Contains(string(pretty.body), "\n  ") {
			t.Errorf("prettyPrint=true is not indented: %s", pretty.body)
		}
	})

	t.Run("ListPages", func(t *testing.T) {
		var names []string
		token := ""
		for pages := 0; ; pages++ {
			q := "?pageSize=2"
			if token != "" {
				q += "&pageToken=" + token
			}
			r := h.do(t, "GET", "/v1/organizations/acme/operations"+q, acmeToken, "")
			r.want200(t)
			var resp longrunningpb.ListOperationsResponse
			if err := protojson.Unmarshal(r.body, &resp); err != nil {
				t.Fatal(err)
			}
			for _, op := range resp.GetOperations() {
				names = append(names, op.GetName())
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
			if pages > 10 {
				t.Fatal("list never ends")
			}
		}
		if strings.Join(names, ",") != strings.Join([]string{a1, a2, a3}, ",") {
			t.Errorf("listed %v", names)
		}
		r := h.do(t, "GET", "/v1/organizations/acme/operations?filter=done%3Dtrue&page_size=10", acmeToken, "")
		r.want200(t)
		var resp longrunningpb.ListOperationsResponse
		if err := protojson.Unmarshal(r.body, &resp); err != nil || len(resp.GetOperations()) != 1 || resp.GetOperations()[0].GetName() != a1 {
			t.Errorf("filtered list: %s %v", r.body, err)
		}
	})

	t.Run("CancelWaitDelete", func(t *testing.T) {
		// Body as the official REST client sends it, then an empty one.
		h.do(t, "POST", "/v1/"+a2+":cancel", acmeToken, `{"name":"`+a2+`"}`).want200(t)
		r := h.do(t, "POST", "/v1/"+a2+":cancel", acmeToken, "")
		r.want200(t)
		if strings.TrimSpace(string(r.body)) != "{}" {
			t.Errorf("cancel answered %s, want {}", r.body)
		}
		r = h.do(t, "GET", "/v1/"+a2, acmeToken, "")
		if !strings.Contains(string(r.body), `"code":1`) {
			t.Errorf("cancelled operation: %s", r.body)
		}
		r = h.do(t, "POST", "/v1/"+a3+":wait", acmeToken, `{"timeout":"0.01s"}`)
		r.want200(t)
		if strings.Contains(string(r.body), `"done"`) {
			t.Errorf("wait on a running operation says done: %s", r.body)
		}
		h.do(t, "DELETE", "/v1/"+a3, acmeToken, "").want200(t)
		h.do(t, "GET", "/v1/"+a3, acmeToken, "").wantError(t, 404, "NOT_FOUND")
	})

	t.Run("Export", func(t *testing.T) {
		r := h.do(t, "POST", "/v1/organizations/acme/developers:export", acmeToken,
			`{"destination":"file:///tmp/out","format":"csv","csv":{"delimiter":"|","no_header":true},"requestId":"r-1"}`)
		r.want200(t)
		var op longrunningpb.Operation
		if err := protojson.Unmarshal(r.body, &op); err != nil || !strings.HasPrefix(op.GetName(), "organizations/acme/operations/") {
			t.Fatalf("export answered %s (%v)", r.body, err)
		}
		got := h.ops.lastStarted()
		if got.GetParent() != "organizations/acme" || got.GetResource() != "developers" || got.GetCsv().GetDelimiter() != "|" ||
			!got.GetCsv().GetNoHeader() || got.GetRequestId() != "r-1" || got.GetFormat() != "csv" {
			t.Errorf("manager got %v", got)
		}
		// Path and body agreeing is fine.
		h.do(t, "POST", "/v1/organizations/acme/apps:export", acmeToken,
			`{"parent":"organizations/acme","resource":"apps","destination":"gs://b/p"}`).want200(t)
	})
}

func TestRESTErrors(t *testing.T) {
	h := start(t, tokenAuth(t))
	acme := h.ops.add("acme", "developers")
	globex := h.ops.add("globex", "developers")
	export := "/v1/organizations/acme/developers:export"

	t.Run("Unauthenticated", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789abcdef", "Basic " + acmeToken, "Bearer"} {
			req, _ := http.NewRequest("GET", h.url+"/v1/"+acme, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := reply{resp.StatusCode, resp.Header, b, resp.Close}
			r.wantError(t, 401, "UNAUTHENTICATED")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("Authorization %q: no WWW-Authenticate", auth)
			}
			if strings.Contains(string(b), "op-") {
				t.Errorf("401 leaks content: %s", b)
			}
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		other := h.do(t, "GET", "/v1/"+globex, acmeToken, "").wantError(t, 404, "NOT_FOUND")
		missing := h.do(t, "GET", "/v1/organizations/acme/operations/nope", acmeToken, "").wantError(t, 404, "NOT_FOUND")
		// Same wording either way, so ids of other organizations cannot be probed.
		if strings.Replace(other.Error.Message, globex, "X", 1) != strings.Replace(missing.Error.Message, "organizations/acme/operations/nope", "X", 1) {
			t.Errorf("messages differ: %q vs %q", other.Error.Message, missing.Error.Message)
		}
		h.do(t, "POST", "/v1/"+globex+":cancel", acmeToken, "").wantError(t, 404, "NOT_FOUND")
		h.do(t, "DELETE", "/v1/"+globex, acmeToken, "").wantError(t, 404, "NOT_FOUND")
		h.do(t, "POST", "/v1/"+globex+":wait", acmeToken, "").wantError(t, 404, "NOT_FOUND")
		// Unknown routes, verbs and collections.
		h.do(t, "GET", "/v2/whatever", acmeToken, "").wantError(t, 404, "NOT_FOUND")
		h.do(t, "GET", "/v1/organizations/acme/developers", acmeToken, "").wantError(t, 404, "NOT_FOUND")
		h.do(t, "POST", "/v1/"+acme+":frobnicate", acmeToken, "").wantError(t, 404, "NOT_FOUND")
		h.do(t, "POST", "/v1/organizations/acme/widgets:export", acmeToken, "{}").wantError(t, 404, "NOT_FOUND")
		// Listing another organization: empty, like an organization without operations.
		r := h.do(t, "GET", "/v1/organizations/globex/operations", acmeToken, "")
		r.want200(t)
		if strings.TrimSpace(string(r.body)) != "{}" {
			t.Errorf("list of globex with an acme token: %s", r.body)
		}
	})

	t.Run("PermissionDenied", func(t *testing.T) {
		e := h.do(t, "POST", "/v1/organizations/globex/apps:export", acmeToken, `{"destination":"gs://b/p"}`).wantError(t, 403, "PERMISSION_DENIED")
		if !strings.Contains(e.Error.Message, "organizations/globex") {
			t.Errorf("message %q does not say which organization", e.Error.Message)
		}
		for _, c := range h.ops.Calls() {
			if strings.Contains(c, "globex") {
				t.Errorf("manager saw %q", c)
			}
		}
	})

	t.Run("BadBodies", func(t *testing.T) {
		for _, tc := range []struct{ path, body, field string }{
			{export, `{"destinaton":"gs://b/p"}`, "destinaton"},
			{export, `{"destination":"gs://b/p","csv":{"delimter":","}}`, "csv.delimter"},
			{export, `{"parent":"organizations/globex","destination":"gs://b/p"}`, "parent"},
			{export, `{"resource":"apps","destination":"gs://b/p"}`, "resource"},
			{"/v1/" + acme + ":cancel", `{"name":"organizations/acme/operations/other"}`, "name"},
			{"/v1/" + acme + ":cancel", `{"nmae":"x"}`, "nmae"},
			{"/v1/" + acme + ":wait", `{"timeout":"1s","extra":1}`, "extra"},
		} {
			e := h.do(t, "POST", tc.path, acmeToken, tc.body).wantError(t, 400, "INVALID_ARGUMENT")
			if !strings.Contains(e.Error.Message, tc.field) || e.fieldViolation(t) != tc.field {
				t.Errorf("%s: message %q, field %q; want field %q", tc.body, e.Error.Message, e.fieldViolation(t), tc.field)
			}
		}
		for _, body := range []string{`{"format":5}`, `[1,2]`, `{"destination":`, `"x"`, `{"csv":[]}`} {
			h.do(t, "POST", export, acmeToken, body).wantError(t, 400, "INVALID_ARGUMENT")
		}
		// The manager's own validation passes through with its message.
		e := h.do(t, "POST", export, acmeToken, `{}`).wantError(t, 400, "INVALID_ARGUMENT")
		if !strings.Contains(e.Error.Message, "destination") {
			t.Errorf("manager message lost: %q", e.Error.Message)
		}
		big := `{"destination":"gs://b/` + strings.Repeat("p", DefaultMaxRequestBytes) + `"}`
		h.do(t, "POST", export, acmeToken, big).wantError(t, 413, "INVALID_ARGUMENT")
	})

	t.Run("BadQueries", func(t *testing.T) {
		for _, tc := range []struct{ q, field string }{
			{"?pagesize=2", "pagesize"},
			{"?pageSize=two", "pageSize"},
			{"?pageSize=-1", ""},
			{"?pageSize=1&pageSize=2", "pageSize"},
			{"?alt=proto", "alt"},
			{"?returnPartialSuccess=maybe", "returnPartialSuccess"},
		} {
			e := h.do(t, "GET", "/v1/organizations/acme/operations"+tc.q, acmeToken, "").wantError(t, 400, "INVALID_ARGUMENT")
			if tc.field != "" && e.fieldViolation(t) != tc.field {
				t.Errorf("%s: field %q, want %q (%s)", tc.q, e.fieldViolation(t), tc.field, e.Error.Message)
			}
		}
		h.do(t, "GET", "/v1/organizations/acme/operations?returnPartialSuccess=true&%24alt=json%3Benum-encoding%3Dint", acmeToken, "").want200(t)
		h.do(t, "GET", "/v1/"+acme+"?view=full", acmeToken, "").wantError(t, 400, "INVALID_ARGUMENT")
		h.do(t, "GET", "/v1/organizations/ac%2Fme/operations", acmeToken, "").wantError(t, 400, "INVALID_ARGUMENT")
	})

	t.Run("MethodNotAllowed", func(t *testing.T) {
		for _, tc := range []struct{ method, path, allow string }{
			{"PUT", "/v1/" + acme, "GET, DELETE"},
			{"POST", "/v1/" + acme, "GET, DELETE"},
			{"GET", "/v1/" + acme + ":cancel", "POST"},
			{"DELETE", "/v1/" + acme + ":wait", "POST"},
			{"POST", "/v1/organizations/acme/operations", "GET"},
			{"DELETE", "/v1/organizations/acme/operations", "GET"},
			{"GET", export, "POST"},
			{"PATCH", "/v1/organizations/acme/apiproducts:export", "POST"},
		} {
			r := h.do(t, tc.method, tc.path, acmeToken, "")
			r.wantError(t, 405, "UNIMPLEMENTED")
			if r.header.Get("Allow") != tc.allow {
				t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, r.header.Get("Allow"), tc.allow)
			}
		}
	})
}

// TestRESTListParentHint: giving the REST client the gRPC-style parent
// lands on GET /v1/organizations/{org}; the 404 says what to do instead.
func TestRESTListParentHint(t *testing.T) {
	h := start(t, tokenAuth(t))
	e := h.do(t, "GET", "/v1/organizations/acme", acmeToken, "").wantError(t, 404, "NOT_FOUND")
	if !strings.Contains(e.Error.Message, "organizations/{org}/operations") {
		t.Errorf("no hint in %q", e.Error.Message)
	}
}
