package apigee

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"pubexport/formats/field"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel() // it waits out retries or a large page: run beside the others
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
		{"86400", 24 * time.Hour, true},                            // as asked; next bounds the wait
		{"99999999999999999", time.Duration(math.MaxInt64/time.Second) * time.Second, true},
	}
	for _, c := range cases {
		got, ok := retryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	tr := &tries{start: now, budget: time.Minute, minWait: time.Millisecond, maxWait: time.Millisecond, now: func() time.Time { return now }, attempts: 1}
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"2"}}}
	if !tr.next(resp) || tr.wait != 2*time.Second {
		t.Errorf("wait with Retry-After 2 = %v", tr.wait)
	}
	// An hour asked, with a budget of ten minutes: the wait is bounded
	// by maxRetryAfter, which fits.
	tr.budget = 10 * time.Minute
	resp.Header.Set("Retry-After", "3600")
	if !tr.next(resp) || tr.wait != maxRetryAfter {
		t.Errorf("wait with Retry-After 3600 and a 10m budget = %v, want %v", tr.wait, maxRetryAfter)
	}
	for attempt := range 10 {
		if d := jitter(10*time.Millisecond, 80*time.Millisecond, attempt, time.Minute); d < 0 || d > min(10*time.Millisecond<<attempt, 80*time.Millisecond) {
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
			// A 400 to developers with count may be the API refusing
			// expand next to count: the page is asked for once without,
			// then once as emails only (list-then-get), whose 400 stands.
			want := 1
			if c.code == 400 {
				want = 3
			}
			if n := len(f.log()); n != want {
				t.Fatalf("%d requests, want %d", n, want)
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
	if err := c.CheckOrganization(context.Background(), "other"); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "Permission denied") || !errors.Is(err, ErrOrganizationUnreadable) {
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
	if err := c.CheckOrganization(context.Background(), "gone"); status.Code(err) != codes.NotFound || !isField(err, field.Organization) || errors.Is(err, ErrOrganizationUnreadable) {
		t.Fatalf("missing org: %v", err)
	}
	if err := c.CheckOrganization(context.Background(), "acme"); status.Code(err) != codes.Unauthenticated || errors.Is(err, ErrOrganizationUnreadable) {
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
	_, err := NewClient(context.Background(), WithBaseURL("https://127.0.0.1:1"))
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "application-default login") {
		t.Fatalf("got %v, want UNAUTHENTICATED with a hint", err)
	}
	// An http:// API gets no credentials, so it needs none.
	if _, err := NewClient(context.Background(), WithBaseURL("http://127.0.0.1:1")); err != nil {
		t.Fatalf("http:// base URL without credentials: %v", err)
	}
}

// fakeADC makes Application Default Credentials whose token endpoint is a
// local server issuing "tok-123", so that the client authenticates for real.
func fakeADC(t *testing.T) {
	t.Helper()
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok-123","token_type":"Bearer","expires_in":3600}`)
	}))
	t.Cleanup(tokens.Close)
	creds := fmt.Sprintf(`{"type":"authorized_user","client_id":"id","client_secret":"secret","refresh_token":"refresh","token_uri":%q}`, tokens.URL)
	path := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(path, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
}

// TestAuthentication: with credentials, requests to an https API carry the
// access token that the credentials' token endpoint issued.
func TestAuthentication(t *testing.T) {
	fakeADC(t)
	f := newFakeAPI(t, nil)
	var auth string
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		auth = r.Header.Get("Authorization")
		return false
	}
	srv := httptest.NewTLSServer(f)
	defer srv.Close()
	c, err := NewClient(context.Background(), WithBaseURL(srv.URL), WithHTTPClient(srv.Client()))
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

// TestNoCredentialsOverHTTP: with working credentials, an http:// API, in
// any letter case and from WithBaseURL or APIGEE_API_URL, gets requests
// without an Authorization header: a token must not travel in clear text.
func TestNoCredentialsOverHTTP(t *testing.T) {
	fakeADC(t)
	f := newFakeAPI(t, nil)
	host := strings.TrimPrefix(f.srv.URL, "http://")
	for _, c := range []struct {
		name string
		opt  []Option
		env  string
	}{
		{"HTTP:// upper case", []Option{WithBaseURL("HTTP://" + host)}, ""},
		{"Http:// mixed case", []Option{WithBaseURL("Http://" + host)}, ""},
		{"http://", []Option{WithBaseURL("http://" + host)}, ""},
		{"APIGEE_API_URL", nil, "http://" + host},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("APIGEE_API_URL", c.env)
			var auth []string
			f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
				auth = append(auth, r.Header.Get("Authorization"))
				return false
			}
			cl, err := NewClient(context.Background(), c.opt...)
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.CheckOrganization(context.Background(), "acme"); err != nil {
				t.Fatal(err)
			}
			if len(auth) != 1 || auth[0] != "" {
				t.Fatalf("Authorization headers %q, want one request without", auth)
			}
		})
	}
}

// TestRedirectNotFollowed: an https API answering 302 to another server
// fails with a clear FAILED_PRECONDITION, and the other server sees no
// request (oauth2.Transport would put the token on it).
func TestRedirectNotFollowed(t *testing.T) {
	fakeADC(t)
	var mu sync.Mutex
	var elsewhere []string // Authorization headers the other host received
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere = append(elsewhere, r.Header.Get("Authorization"))
		mu.Unlock()
		fmt.Fprint(w, `{"name":"acme"}`)
	}))
	defer other.Close()
	var auth []string
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Redirect(w, r, other.URL+r.URL.Path+"?redirect-secret=xyz", http.StatusFound)
	}))
	defer api.Close()
	c, err := NewClient(context.Background(), WithBaseURL(api.URL), WithHTTPClient(api.Client()),
		WithRetry(4, time.Millisecond, 5*time.Millisecond), WithRateLimit(0))
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckOrganization(context.Background(), "acme")
	mu.Lock()
	defer mu.Unlock()
	if len(elsewhere) != 0 {
		t.Fatalf("the redirect was followed: the other host got %d requests, Authorization %q", len(elsewhere), elsewhere)
	}
	if len(auth) != 1 || auth[0] != "Bearer tok-123" {
		t.Fatalf("the API got Authorization %q, want one request with the token", auth)
	}
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("got %v (%v), want FAILED_PRECONDITION", status.Code(err), err)
	}
	msg := err.Error()
	for _, want := range []string{"HTTP 302 redirect to " + other.URL + "/v1/organizations/acme", "does not redirect", "Apigee API URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "redirect-secret") || strings.Contains(msg, "tok-123") {
		t.Errorf("error %q repeats the Location's query or the token", msg)
	}
}

// TestOversizedResponse: a body past the cap is never retried as it is; a
// page is asked for with half the records down to one, and a single record
// over the cap fails with FAILED_PRECONDITION naming the limit, whether
// the server announces its length or streams it. The server writes its
// body in chunks until the client stops reading. The announced body meets
// the default cap (the client reads none of it); the streamed one, which
// the client reads up to the cap, meets a 1 MiB cap, so that the eleven
// tries move 11 MiB, not 350.
func TestOversizedResponse(t *testing.T) {
	for _, announce := range []bool{false, true} {
		t.Run(fmt.Sprintf("Content-Length=%v", announce), func(t *testing.T) {
			f := newFakeAPI(t, nil)
			chunk := []byte(strings.Repeat(" ", 64<<10))
			limit, capName := int64(1<<20), "1 MiB"
			var opts []Option
			if announce {
				limit, capName = DefaultMaxResponse, "32 MiB"
			} else {
				opts = append(opts, WithMaxResponse(limit))
			}
			size := int(limit) + 1<<20
			f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
				if announce {
					w.Header().Set("Content-Length", fmt.Sprint(size))
				}
				w.Header().Set("Content-Type", "application/json")
				for sent := 0; sent < size; sent += len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						break // the client hung up
					}
				}
				return true
			}
			err := listErr(f.client(t, opts...).List("acme", Developers, Cursor{}))
			// count 1000, 500, ..., 3, 1: each a new request, never a
			// retry of the same one; then one for the key.
			var counts []string
			for _, r := range f.log() {
				counts = append(counts, r.URL.Query().Get("count"))
			}
			if want := "1000 500 250 125 62 31 15 7 3 1 2"; strings.Join(counts, " ") != want {
				t.Fatalf("counts %v, want %s (halved to 1, then the key asked for)", counts, want)
			}
			if status.Code(err) != codes.FailedPrecondition {
				t.Fatalf("got %v (%v), want FAILED_PRECONDITION", status.Code(err), err)
			}
			msg := err.Error()
			for _, want := range []string{"developer is larger than " + capName + " on its own"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if strings.Contains(msg, "attempts") || strings.Contains(msg, "--apigee-url") {
				t.Errorf("error %q speaks of attempts or blames the URL", msg)
			}
		})
	}
}

// TestOversizedNotRetried: checkRetry stops at an oversized body, and only
// there among read errors.
func TestOversizedNotRetried(t *testing.T) {
	ctx := context.Background()
	tr := &tries{start: time.Now(), budget: time.Minute, now: time.Now}
	if retry, _ := tr.checkRetry(ctx, nil, fmt.Errorf("reading: %w", &tooLargeError{limit: DefaultMaxResponse})); retry {
		t.Error("an oversized body is retried")
	}
	if retry, _ := tr.checkRetry(ctx, nil, errors.New("connection reset")); !retry {
		t.Error("a connection reset is not retried")
	}
}

// TestAPIMessageTruncated: the API's error.message is cut to
// maxAPIMessage bytes (at a character boundary), like a raw body.
func TestAPIMessageTruncated(t *testing.T) {
	long := strings.Repeat("é", 1000) + "TAIL"
	for _, body := range []string{
		fmt.Sprintf(`{"error":{"code":400,"message":%q,"status":"INVALID_ARGUMENT"}}`, long),
		long,
	} {
		msg, _ := apiMessage([]byte(body))
		if len(msg) > maxAPIMessage+len("...") || !strings.HasSuffix(msg, "...") || strings.Contains(msg, "TAIL") || !utf8.ValidString(msg) {
			t.Errorf("apiMessage of a %d-byte message: %d bytes, ending %q", len(long), len(msg), msg[max(0, len(msg)-12):])
		}
	}
	f := newFakeAPI(t, nil)
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		googleErr(w, 400, "INVALID_ARGUMENT", strings.Repeat("x", 5000)+"TAIL")
		return true
	}
	err := listErr(f.client(t).List("acme", Developers, Cursor{}))
	if status.Code(err) != codes.InvalidArgument || strings.Contains(err.Error(), "TAIL") || len(err.Error()) > 1000 {
		t.Fatalf("got %v with a %d-byte message, want INVALID_ARGUMENT cut short", status.Code(err), len(err.Error()))
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

// TestClientDefaults: a client made without options retries for the
// default budget, bounds every try by the default timeout (also when the
// caller's http.Client has none), and reads at most 32 MiB of an answer.
func TestClientDefaults(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithHTTPClient(&http.Client{})}} {
		c, err := NewClient(context.Background(), append(opts, WithoutAuthentication())...)
		if err != nil {
			t.Fatal(err)
		}
		if c.budget != DefaultRetryBudget || c.budget < 2*time.Minute {
			t.Errorf("retry budget %v, want DefaultRetryBudget (%v, at least 2 minutes)", c.budget, DefaultRetryBudget)
		}
		if c.timeout != DefaultTimeout || c.hc.Timeout != DefaultTimeout {
			t.Errorf("timeout %v (http.Client %v), want %v", c.timeout, c.hc.Timeout, DefaultTimeout)
		}
		if c.attempts != 0 {
			t.Errorf("attempts capped at %d by default; the budget alone should decide", c.attempts)
		}
		if c.maxResponse != 32<<20 {
			t.Errorf("max response %d", c.maxResponse)
		}
	}
}

// isField reports whether err is about the value named name (package field).
func isField(err error, name string) bool {
	var fe *field.Error
	return errors.As(err, &fe) && fe.Field == name
}
