package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/idtoken"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/operations/operationspb"
)

func TestParseTokenFile(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{`{"tokens":[{"token":"0123456789abcdef","organisations":["acme"]}]}`, "organisations"},
		{`{"tokens":[{"token":"short","organizations":["acme"]}]}`, "shorter than 16"},
		{`{"tokens":[{"token":"0123456789abcdef","organizations":[]}]}`, "tokens[0].organizations is empty"},
		{`{"tokens":[{"token":"0123456789abcdef","organizations":["organizations/acme"]}]}`, "not an organization name"},
		{`{"tokens":[{"token":"0123456789abcdef","organizations":["a"]},{"token":"0123456789abcdef","organizations":["b"]}]}`, "tokens[1].token repeats"},
		{`{"principals":[{"email":"nobody","organizations":["a"]}]}`, "not an email"},
		{`{"principals":[{"email":"a@b.c","organizations":["a"]},{"email":"A@B.C","organizations":["b"]}]}`, "repeats"},
		{`{"tokens":[]} {}`, "after its JSON object"},
		{`tokens: []`, "not valid JSON"},
	} {
		_, err := ParseTokenFile([]byte(tc.file))
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want INVALID_ARGUMENT mentioning %q", tc.file, err, tc.want)
		}
	}

	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, []byte(testTokenFile), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadTokenFile(path)
	if err != nil || len(f.Tokens) != 3 || len(f.Principals) != 1 {
		t.Fatalf("LoadTokenFile: %+v, %v", f, err)
	}
	if _, err := LoadTokenFile(path + ".missing"); err == nil || !strings.Contains(err.Error(), "read token file") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := TokenAuth(&TokenFile{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("TokenAuth without tokens: %v", err)
	}
	if _, err := IDTokenAuth(f, "", nil); status.Code(err) != codes.InvalidArgument {
		t.Errorf("IDTokenAuth without audience: %v", err)
	}
	if _, err := IDTokenAuth(&TokenFile{}, "https://x", nil); status.Code(err) != codes.InvalidArgument {
		t.Errorf("IDTokenAuth without principals: %v", err)
	}
}

// fakeValidator stands in for idtoken.Validate, which fetches Google's
// signing keys over the network: tests run on loopback only, so what is
// tested here is everything after signature checking (audience handed on,
// claims to organizations). Tokens are keys of claims.
func fakeValidator(t *testing.T, audience string, claims map[string]map[string]any) ValidateFunc {
	return func(ctx context.Context, token, aud string) (*idtoken.Payload, error) {
		if aud != audience {
			t.Errorf("validator asked for audience %q, want %q", aud, audience)
		}
		c, ok := claims[token]
		if !ok {
			return nil, errors.New("idtoken: invalid token signature")
		}
		return &idtoken.Payload{Issuer: "https://accounts.google.com", Audience: aud, Subject: "1234", Claims: c}, nil
	}
}

func TestIDTokenAuth(t *testing.T) {
	const aud = "https://pubexport.example.run.app"
	f, err := ParseTokenFile([]byte(testTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	a, err := IDTokenAuth(f, aud, fakeValidator(t, aud, map[string]map[string]any{
		"good":       {"email": "ci@acme-proj.iam.gserviceaccount.com", "email_verified": true},
		"unlisted":   {"email": "intruder@example.com", "email_verified": true},
		"noemail":    {"sub": "1234"},
		"unverified": {"email": "ci@acme-proj.iam.gserviceaccount.com", "email_verified": false},
	}))
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, a)
	acme := h.ops.add("acme", "apps")
	globex := h.ops.add("globex", "apps")
	ctx := context.Background()
	export := &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps", Destination: "gs://b/p"}

	// REST.
	h.do(t, "GET", "/v1/"+acme, "good", "").want200(t) // email matched case-insensitively
	h.do(t, "GET", "/v1/"+globex, "good", "").wantError(t, 404, "NOT_FOUND")
	h.do(t, "POST", "/v1/organizations/globex/apps:export", "good", `{"destination":"gs://b/p"}`).wantError(t, 403, "PERMISSION_DENIED")
	e := h.do(t, "GET", "/v1/"+acme, "unlisted", "").wantError(t, 403, "PERMISSION_DENIED")
	if !strings.Contains(e.Error.Message, "intruder@example.com") {
		t.Errorf("unlisted principal message %q", e.Error.Message)
	}
	for _, tok := range []string{"forged", "noemail", "unverified", ""} {
		h.do(t, "GET", "/v1/"+acme, tok, "").wantError(t, 401, "UNAUTHENTICATED")
	}

	// gRPC, both services.
	if _, err := h.grpcClient(t, "good").GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: acme}); err != nil {
		t.Errorf("gRPC Get with a good ID token: %v", err)
	}
	if op, err := operationspb.NewExportServiceClient(h.grpcConn(t, "good")).Export(ctx, export); err != nil || !strings.HasPrefix(op.GetName(), "organizations/acme/") {
		t.Errorf("gRPC Export with a good ID token: %v, %v", op, err)
	}
	for tok, want := range map[string]codes.Code{"forged": codes.Unauthenticated, "unverified": codes.Unauthenticated, "unlisted": codes.PermissionDenied, "": codes.Unauthenticated} {
		if _, err := h.grpcClient(t, tok).GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: acme}); status.Code(err) != want {
			t.Errorf("gRPC Get with ID token %q: %v, want %v", tok, err, want)
		}
		if _, err := operationspb.NewExportServiceClient(h.grpcConn(t, tok)).Export(ctx, export); status.Code(err) != want {
			t.Errorf("gRPC Export with ID token %q: %v, want %v", tok, err, want)
		}
	}
}

// TestAuthRequired: without Options.Auth every request is refused on both
// transports; NoAuth must be chosen explicitly.
func TestAuthRequired(t *testing.T) {
	ctx := context.Background()
	h := start(t, nil)
	name := h.ops.add("acme", "apps")
	h.do(t, "GET", "/v1/"+name, acmeToken, "").wantError(t, 401, "UNAUTHENTICATED")
	if _, err := h.grpcClient(t, acmeToken).GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC without Auth: %v", err)
	}
	if calls := h.ops.Calls(); len(calls) != 0 {
		t.Errorf("manager was called: %v", calls)
	}

	open := start(t, NoAuth())
	name = open.ops.add("anyorg", "apps")
	open.do(t, "GET", "/v1/"+name, "", "").want200(t)
	if _, err := open.grpcClient(t, "").GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}); err != nil {
		t.Errorf("gRPC with NoAuth: %v", err)
	}
}

// TestSeveralAuthorizationHeaders: two credentials are refused rather than
// one of them picked.
func TestSeveralAuthorizationHeaders(t *testing.T) {
	h := start(t, tokenAuth(t))
	name := h.ops.add("acme", "apps")
	req, _ := http.NewRequest("GET", h.url+"/v1/"+name, nil)
	req.Header.Add("Authorization", "Bearer "+acmeToken)
	req.Header.Add("Authorization", "Bearer "+globexToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("two Authorization headers: HTTP %d", resp.StatusCode)
	}
}

// TestCallerOrganizations: what the console offers a caller is what its
// grant names, and "*" says every organization.
func TestCallerOrganizations(t *testing.T) {
	a := tokenAuth(t)
	for _, c := range []struct {
		token string
		orgs  string
		all   bool
	}{
		{acmeToken, "acme", false},
		{globexToken, "globex", false},
		{starToken, "", true},
	} {
		caller, err := a.authenticate(t.Context(), "Bearer "+c.token)
		if err != nil {
			t.Fatal(err)
		}
		orgs, all := caller.Organizations()
		if strings.Join(orgs, ",") != c.orgs || all != c.all {
			t.Errorf("%s: %q %v, want %q %v", caller.Subject, orgs, all, c.orgs, c.all)
		}
	}
	if orgs, all := NoAuth().mustCaller(t).Organizations(); len(orgs) != 0 || !all {
		t.Errorf("anonymous: %q %v", orgs, all)
	}
}

func (a *Auth) mustCaller(t *testing.T) *Caller {
	t.Helper()
	c, err := a.authenticate(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
