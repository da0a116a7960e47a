package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"google.golang.org/api/idtoken"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// minTokenLen is the shortest bearer token a token file may hold: shorter
// secrets can be guessed online.
const minTokenLen = 16

// TokenFile is the JSON file that grants organizations to callers:
//
//	{"tokens":     [{"token": "s3cr3t...", "organizations": ["acme"]}],
//	 "principals": [{"email": "ci@proj.iam.gserviceaccount.com", "organizations": ["*"]}]}
//
// "*" grants every organization. Tokens are used by [TokenAuth], principals
// (the email of a Google ID token) by [IDTokenAuth].
type TokenFile struct {
	Tokens     []TokenGrant     `json:"tokens"`
	Principals []PrincipalGrant `json:"principals"`
}

// TokenGrant lets whoever holds Token see Organizations.
type TokenGrant struct {
	Token         string   `json:"token"`
	Organizations []string `json:"organizations"`
}

// PrincipalGrant lets the Google identity Email see Organizations.
type PrincipalGrant struct {
	Email         string   `json:"email"`
	Organizations []string `json:"organizations"`
}

// LoadTokenFile reads and checks a token file.
func LoadTokenFile(path string) (*TokenFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	f, err := ParseTokenFile(b)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return f, nil
}

// ParseTokenFile decodes and checks a token file. Unknown fields are errors,
// so that a misspelt "organisations" does not silently grant nothing.
func ParseTokenFile(b []byte) (*TokenFile, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f TokenFile
	if err := dec.Decode(&f); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "token file is not valid JSON of the form {\"tokens\":[{\"token\":...,\"organizations\":[...]}],\"principals\":[{\"email\":...,\"organizations\":[...]}]}: %v", err)
	}
	if dec.More() {
		return nil, status.Error(codes.InvalidArgument, "token file has data after its JSON object")
	}
	seen := map[string]bool{}
	for i, t := range f.Tokens {
		if len(t.Token) < minTokenLen {
			return nil, status.Errorf(codes.InvalidArgument, "tokens[%d].token is shorter than %d characters: use a long random secret", i, minTokenLen)
		}
		if seen[t.Token] {
			return nil, status.Errorf(codes.InvalidArgument, "tokens[%d].token repeats an earlier token: merge their organizations", i)
		}
		seen[t.Token] = true
		if err := checkOrgs(fmt.Sprintf("tokens[%d]", i), t.Organizations); err != nil {
			return nil, err
		}
	}
	seen = map[string]bool{}
	for i, p := range f.Principals {
		e := strings.ToLower(strings.TrimSpace(p.Email))
		if e == "" || !strings.Contains(e, "@") {
			return nil, status.Errorf(codes.InvalidArgument, "principals[%d].email %q is not an email address", i, p.Email)
		}
		if seen[e] {
			return nil, status.Errorf(codes.InvalidArgument, "principals[%d].email %q repeats an earlier principal: merge their organizations", i, p.Email)
		}
		seen[e] = true
		if err := checkOrgs(fmt.Sprintf("principals[%d]", i), p.Organizations); err != nil {
			return nil, err
		}
	}
	return &f, nil
}

func checkOrgs(where string, orgs []string) error {
	if len(orgs) == 0 {
		return status.Errorf(codes.InvalidArgument, "%s.organizations is empty: list organization names or \"*\" for all", where)
	}
	for j, o := range orgs {
		if o != "*" && !validSegment(o) {
			return status.Errorf(codes.InvalidArgument, "%s.organizations[%d] %q is not an organization name (want e.g. \"acme\", not \"organizations/acme\")", where, j, o)
		}
	}
	return nil
}

// Caller is an authenticated caller and the organizations it may see.
type Caller struct {
	// Subject names the caller in logs: "anonymous", "token #N" or an email.
	Subject string
	all     bool
	orgs    map[string]bool
}

// Covers reports whether the caller may see organization org.
func (c *Caller) Covers(org string) bool {
	return c != nil && (c.all || c.orgs[org])
}

// Organizations returns the organizations the caller is granted by name,
// sorted, and whether it is granted every organization ("*", or no
// authentication).
func (c *Caller) Organizations() (orgs []string, all bool) {
	if c == nil {
		return nil, false
	}
	for o := range c.orgs {
		if o != "*" {
			orgs = append(orgs, o)
		}
	}
	slices.Sort(orgs)
	return orgs, c.all
}

func newCaller(subject string, orgs []string) *Caller {
	c := &Caller{Subject: subject, orgs: map[string]bool{}}
	for _, o := range orgs {
		if o == "*" {
			c.all = true
		}
		c.orgs[o] = true
	}
	return c
}

// ValidateFunc checks a Google ID token for audience, as idtoken.Validate
// does. It is a field so tests (and deployments with their own verifier) can
// replace the network fetch of Google's certificates.
type ValidateFunc func(ctx context.Context, token, audience string) (*idtoken.Payload, error)

// Auth authenticates requests on both transports. Build one with [NoAuth],
// [TokenAuth] or [IDTokenAuth]; the zero value (and a nil *Auth) rejects
// every request, so that running without authentication is always a choice.
type Auth struct {
	mode       string // "none", "token", "idtoken"
	tokens     []tokenEntry
	principals map[string]*Caller
	audience   string
	validate   ValidateFunc
}

type tokenEntry struct {
	sum    [sha256.Size]byte
	caller *Caller
}

// NoAuth lets every request through as "anonymous" with every organization.
// For local use only.
func NoAuth() *Auth { return &Auth{mode: "none"} }

// TokenAuth accepts "Authorization: Bearer TOKEN" for the tokens of f.
func TokenAuth(f *TokenFile) (*Auth, error) {
	if f == nil || len(f.Tokens) == 0 {
		return nil, status.Error(codes.InvalidArgument, "token authentication needs a token file with at least one entry in \"tokens\"")
	}
	a := &Auth{mode: "token"}
	for i, t := range f.Tokens {
		a.tokens = append(a.tokens, tokenEntry{
			sum:    sha256.Sum256([]byte(t.Token)),
			caller: newCaller(fmt.Sprintf("token #%d", i+1), t.Organizations),
		})
	}
	return a, nil
}

// IDTokenAuth accepts "Authorization: Bearer ID_TOKEN" where ID_TOKEN is a
// Google-signed ID token for audience whose email is one of f's principals.
// validate nil means idtoken.Validate (which fetches Google's public keys).
func IDTokenAuth(f *TokenFile, audience string, validate ValidateFunc) (*Auth, error) {
	if audience == "" {
		return nil, status.Error(codes.InvalidArgument, "ID token authentication needs an audience (the URL clients mint tokens for)")
	}
	if f == nil || len(f.Principals) == 0 {
		return nil, status.Error(codes.InvalidArgument, "ID token authentication needs a token file with at least one entry in \"principals\"")
	}
	if validate == nil {
		validate = idtoken.Validate
	}
	a := &Auth{mode: "idtoken", audience: audience, validate: validate, principals: map[string]*Caller{}}
	for _, p := range f.Principals {
		e := strings.ToLower(strings.TrimSpace(p.Email))
		a.principals[e] = newCaller(e, p.Organizations)
	}
	return a, nil
}

var errSeveralAuthorization = status.Error(codes.Unauthenticated, "several Authorization headers: send exactly one")

var errNoCredentials = status.Error(codes.Unauthenticated, "missing credentials: send \"Authorization: Bearer TOKEN\"")

// authenticate returns the caller behind an Authorization header value.
func (a *Auth) authenticate(ctx context.Context, authorization string) (*Caller, error) {
	if a == nil || a.mode == "" {
		return nil, status.Error(codes.Unauthenticated, "server has no authentication configured; refusing every request")
	}
	if a.mode == "none" {
		return &Caller{Subject: "anonymous", all: true}, nil
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	tok = strings.TrimSpace(tok)
	if authorization == "" {
		return nil, errNoCredentials
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, status.Error(codes.Unauthenticated, "credentials are not a bearer token: send \"Authorization: Bearer TOKEN\"")
	}
	if a.mode == "token" {
		return a.matchToken(tok)
	}
	return a.matchIDToken(ctx, tok)
}

// matchToken compares tok with every known token in constant time (over
// SHA-256 sums, so lengths do not leak either) and never stops early.
func (a *Auth) matchToken(tok string) (*Caller, error) {
	sum := sha256.Sum256([]byte(tok))
	var found *Caller
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
			found = a.tokens[i].caller
		}
	}
	if found == nil {
		return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	return found, nil
}

func (a *Auth) matchIDToken(ctx context.Context, tok string) (*Caller, error) {
	p, err := a.validate(ctx, tok, a.audience)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Errorf(codes.Unauthenticated, "invalid ID token (audience %q expected): %v", a.audience, err)
	}
	if p == nil {
		return nil, status.Error(codes.Unauthenticated, "invalid ID token")
	}
	email, _ := p.Claims["email"].(string)
	if email == "" {
		return nil, status.Error(codes.Unauthenticated, "ID token has no email claim: mint it with the email included (gcloud auth print-identity-token --include-email)")
	}
	if v, ok := p.Claims["email_verified"]; ok && v != true && v != "true" {
		return nil, status.Errorf(codes.Unauthenticated, "ID token email %q is not verified", email)
	}
	c := a.principals[strings.ToLower(email)]
	if c == nil {
		return nil, status.Errorf(codes.PermissionDenied, "principal %q is not granted any organization: add it to the token file's principals", email)
	}
	return c, nil
}

type callerKey struct{}

func withCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the authenticated caller of a request being served, or
// nil outside one. An Operations implementation may use it for audit logs;
// authorization has already been applied when it is called.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// subject names the caller of ctx for logs.
func subject(ctx context.Context) string {
	if c := CallerFrom(ctx); c != nil {
		return c.Subject
	}
	return "unauthenticated"
}
