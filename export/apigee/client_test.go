package apigee

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestRetryAfterHonoured(t *testing.T) {
	recs := genRecords(Developers, 3, 1)
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "1")
			googleErr(w, 429, "RESOURCE_EXHAUSTED", "Quota exceeded")
			return true
		case 2:
			googleErr(w, 503, "UNAVAILABLE", "backend down") // no Retry-After: jittered backoff
			return true
		}
		return false
	}
	checkExactly(t, Developers, drain(t, f.client(t).List("acme", Developers, Cursor{})), recs)
	if n := len(f.log()); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	// Backoff is at most 5ms here, so only Retry-After explains a gap of a
	// second between the first two requests (a lower bound, measured by
	// the server).
	if gap := f.times[1].Sub(f.times[0]); gap < time.Second {
		t.Fatalf("retried after %v, before Retry-After's 1s", gap)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"Friday, 02-Jan-26 03:04:15 GMT", 10 * time.Second, true}, // RFC 850
		{"86400", maxRetryAfter, true},
	}
	for _, c := range cases {
		got, ok := retryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	resp := &http.Response{Header: http.Header{"Retry-After": {"2"}}}
	if d := backoff(time.Millisecond, time.Millisecond, 0, resp); d != 2*time.Second {
		t.Errorf("backoff with Retry-After 2 = %v", d)
	}
	for attempt := range 10 {
		if d := backoff(10*time.Millisecond, 80*time.Millisecond, attempt, nil); d < 0 || d > min(10*time.Millisecond<<attempt, 80*time.Millisecond) {
			t.Errorf("attempt %d: backoff %v outside full-jitter bounds", attempt, d)
		}
	}
}

func TestRetriesExhausted(t *testing.T) {
	for _, c := range []struct {
		code int
		want codes.Code
	}{{429, codes.ResourceExhausted}, {503, codes.Unavailable}, {500, codes.Unavailable}} {
		t.Run(fmt.Sprint(c.code), func(t *testing.T) {
			f := newFakeAPI(t, nil)
			f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
				googleErr(w, c.code, "X", fmt.Sprintf("the API's own words #%d", n))
				return true
			}
			err := listErr(f.client(t).List("acme", Apps, Cursor{}))
			if got := status.Code(err); got != c.want {
				t.Fatalf("got %v (%v), want %v", got, err, c.want)
			}
			if n := len(f.log()); n != 4 {
				t.Fatalf("%d requests, want 4 (WithRetry(4, ...))", n)
			}
			if !strings.Contains(err.Error(), "the API's own words #4") || !strings.Contains(err.Error(), "after 4 attempts") {
				t.Fatalf("error %q lacks the API's last message or the attempt count", err)
			}
		})
	}
}

func TestClientErrorsFailAtOnce(t *testing.T) {
	for _, c := range []struct {
		code int
		want codes.Code
	}{{400, codes.InvalidArgument}, {401, codes.Unauthenticated}, {403, codes.PermissionDenied}, {404, codes.NotFound}, {409, codes.Aborted}} {
		t.Run(fmt.Sprint(c.code), func(t *testing.T) {
			f := newFakeAPI(t, nil)
			f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
				googleErr(w, c.code, "WHATEVER", "precise reason from Apigee")
				return true
			}
			err := listErr(f.client(t).List("acme", Developers, Cursor{}))
			if got := status.Code(err); got != c.want {
				t.Fatalf("got %v (%v), want %v", got, err, c.want)
			}
			if !strings.Contains(err.Error(), "precise reason from Apigee") {
				t.Fatalf("error %q lacks the API's message", err)
			}
			if n := len(f.log()); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
		})
	}
}

func TestCheckOrganization(t *testing.T) {
	f := newFakeAPI(t, nil)
	c := f.client(t)
	if err := c.CheckOrganization(context.Background(), "acme"); err != nil {
		t.Fatalf("existing org: %v", err)
	}
	if err := c.CheckOrganization(context.Background(), "other"); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("other org: %v", err)
	}
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch r.URL.Path {
		case "/v1/organizations/gone":
			googleErr(w, 404, "NOT_FOUND", "Organization gone not found")
		default:
			googleErr(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		}
		return true
	}
	if err := c.CheckOrganization(context.Background(), "gone"); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "--org") {
		t.Fatalf("missing org: %v", err)
	}
	if err := c.CheckOrganization(context.Background(), "acme"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("bad credentials: %v", err)
	}
	if err := c.CheckOrganization(context.Background(), "a/b"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("org with a slash: %v", err)
	}
}

// TestContextCancel: cancelling stops a listing waiting out a long
// Retry-After, with CANCELED that is also context.Canceled.
func TestContextCancel(t *testing.T) {
	f := newFakeAPI(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		googleErr(w, 503, "UNAVAILABLE", "try later")
		cancel() // the client is about to wait an hour (5 minutes, capped)
		return true
	}
	_, err := f.client(t).List("acme", Apps, Cursor{}).Next(ctx)
	if status.Code(err) != codes.Canceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want CANCELED wrapping context.Canceled", err)
	}
	if n := len(f.log()); n != 1 {
		t.Fatalf("%d requests after cancel, want 1", n)
	}

	done, stop := context.WithCancel(context.Background())
	stop()
	_, err = f.client(t).List("acme", Developers, Cursor{}).Next(done)
	if status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled before the first request: %v", err)
	}
}

// TestRateLimit: the client spaces calls at the configured rate. 600 calls
// a minute is one per 100ms with a burst of 1: five calls cannot arrive
// within less than 400ms (a lower bound, measured by the server).
func TestRateLimit(t *testing.T) {
	recs := genRecords(Developers, 9, 1)
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	drain(t, f.client(t, WithRateLimit(600), WithPageSize(2)).List("acme", Developers, Cursor{}))
	if n := len(f.times); n < 5 {
		t.Fatalf("only %d requests", n)
	}
	// Four intervals of 100 ms at 600/min, less some slack: the times are
	// taken where the server sees the requests, and the first one may
	// arrive later than it was released. Without the limit they take ~1 ms.
	if span := f.times[4].Sub(f.times[0]); span < 300*time.Millisecond {
		t.Fatalf("5 calls within %v at 600/min", span)
	}
}

func TestNewClientBaseURL(t *testing.T) {
	f := newFakeAPI(t, nil)
	t.Setenv("APIGEE_API_URL", f.srv.URL+"/")
	c, err := NewClient(context.Background(), WithoutAuthentication(), WithRateLimit(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckOrganization(context.Background(), "acme"); err != nil {
		t.Fatalf("APIGEE_API_URL not used: %v", err)
	}
	if _, err := NewClient(context.Background(), WithBaseURL("ftp://x"), WithoutAuthentication()); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad URL: %v", err)
	}
	t.Setenv("APIGEE_API_URL", "")
	c, err = NewClient(context.Background(), WithoutAuthentication())
	if err != nil || c.base != DefaultBaseURL {
		t.Fatalf("default base %q, %v", c.base, err)
	}
}

func TestNewClientWithoutCredentials(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	_, err := NewClient(context.Background(), WithBaseURL("http://127.0.0.1:1"))
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "application-default login") {
		t.Fatalf("got %v, want UNAUTHENTICATED with a hint", err)
	}
}

// TestAuthentication: with credentials, requests carry the access token
// that the credentials' token endpoint issued.
func TestAuthentication(t *testing.T) {
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok-123","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokens.Close()
	creds := fmt.Sprintf(`{"type":"authorized_user","client_id":"id","client_secret":"secret","refresh_token":"refresh","token_uri":%q}`, tokens.URL)
	path := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(path, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	f := newFakeAPI(t, nil)
	var auth string
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		auth = r.Header.Get("Authorization")
		return false
	}
	c, err := NewClient(context.Background(), WithBaseURL(f.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckOrganization(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if auth != "Bearer tok-123" {
		t.Fatalf("Authorization %q, want the issued token", auth)
	}
}

func TestResources(t *testing.T) {
	for _, r := range Resources() {
		got, err := ParseResource(string(r))
		if err != nil || got != r {
			t.Errorf("ParseResource(%q) = %v, %v", r, got, err)
		}
		m := r.New()
		if m.ProtoReflect().Descriptor() != r.Descriptor() {
			t.Errorf("%s: New and Descriptor disagree", r)
		}
		if r.Key(genRecords(r, 1, 1)[0]) == "" {
			t.Errorf("%s: empty key", r)
		}
	}
	if _, err := ParseResource("companies"); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "developers, apps, apiproducts") {
		t.Errorf("ParseResource(companies): %v", err)
	}
}
