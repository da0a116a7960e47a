package apigee

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/formats/field"
)

// wantMessage fails t unless err has code c and its message says every
// one of want and none of wantNot.
func wantMessage(t *testing.T, err error, c codes.Code, want, wantNot []string) {
	t.Helper()
	if status.Code(err) != c {
		t.Fatalf("got %v, want %v", err, c)
	}
	for _, s := range want {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	for _, s := range wantNot {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q says %q", err, s)
		}
	}
}

// TestRetryAfterLongerThanTheBudget: a 429 whose Retry-After (an hour)
// is longer than the whole retry budget is not waited for. The error says
// what Apigee asked, not the bounded wait, that it is longer than the
// budget, and when to try again; it does not claim the quota stayed
// exhausted through a budget that was not spent. No test time passes:
// the clock is the test's.
func TestRetryAfterLongerThanTheBudget(t *testing.T) {
	for _, c := range []struct {
		code   int
		status string
		want   codes.Code
		advice string
	}{
		{http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", codes.ResourceExhausted, "quota, 6000 calls a minute per project, is spent: try again after 2026-01-02T04:04:05Z"},
		{http.StatusServiceUnavailable, "UNAVAILABLE", codes.Unavailable, "Apigee is unavailable: try again after 2026-01-02T04:04:05Z"},
	} {
		t.Run(c.status, func(t *testing.T) {
			f := newFakeAPI(t, nil)
			f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.Header().Set("Retry-After", "3600")
				googleErr(w, c.code, c.status, "Quota exceeded")
				return true
			}
			cl := f.client(t, WithRetryBudget(DefaultRetryBudget), WithRetry(0, time.Millisecond, time.Millisecond))
			cl.now = newFakeClock().now // 2026-01-02T03:04:05Z
			err := listErr(cl.List("acme", APIProducts, Cursor{}))
			if n := len(f.log()); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
			wantMessage(t, err, c.want,
				[]string{"after 1 attempt, then Apigee asked to wait 1h0m0s (Retry-After), longer than the whole 2m0s retry budget", "Quota exceeded", c.advice},
				[]string{"5m0s", "stayed exhausted", "over 0s"})
		})
	}
}

// TestUnreachableAPIURL: an Apigee URL where nothing listens fails UNAVAILABLE after the bounded retries,
// saying the URL cannot be reached and naming the value to check (a
// field.Error about apigee_url, which each front door calls by its own
// name: --apigee-url, PUBEXPORT_APIGEE_URL, apigeeUrl).
func TestUnreachableAPIURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	for _, c := range []struct {
		name, url, why string
	}{
		{"refused", refused, "connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := NewClient(context.Background(), WithBaseURL(c.url), WithRetry(3, time.Millisecond, time.Millisecond), WithRateLimit(0))
			if err != nil {
				t.Fatal(err)
			}
			err = cl.CheckOrganization(context.Background(), "acme")
			wantMessage(t, err, codes.Unavailable,
				[]string{"no answer after 3 attempts", "apigee_url: the Apigee API at " + c.url + " cannot be reached (" + c.why, "check the Apigee API URL"},
				[]string{"try again later"})
			var fe *field.Error
			if !errors.As(err, &fe) || fe.Field != field.ApigeeURL {
				t.Errorf("error %v names no field, want %s", err, field.ApigeeURL)
			}
		})
	}
}

// TestUnauthorizedAdvice: a 401 says what to fix for the credentials the
// request carried: none over http:// (the README: http:// gets no
// credentials), so not the Application Default Credentials; the URL's
// user and password when it has them; ADC over https.
func TestUnauthorizedAdvice(t *testing.T) {
	f := newFakeAPI(t, nil)
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		googleErr(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request is missing required authentication credential.")
		return true
	}
	t.Run("http", func(t *testing.T) {
		fakeADC(t) // credentials exist; they are still not sent
		cl, err := NewClient(context.Background(), WithBaseURL(f.srv.URL), WithRateLimit(0))
		if err != nil {
			t.Fatal(err)
		}
		wantMessage(t, cl.CheckOrganization(context.Background(), "acme"), codes.Unauthenticated,
			[]string{"HTTP 401", "missing required authentication", "refused a request without credentials", "none are sent to an http:// Apigee API URL"},
			[]string{"Application Default Credentials", "application-default login"})
	})
	t.Run("basic", func(t *testing.T) {
		cl, err := NewClient(context.Background(), WithBaseURL(strings.Replace(f.srv.URL, "http://", "http://me:pw@", 1)), WithRateLimit(0))
		if err != nil {
			t.Fatal(err)
		}
		wantMessage(t, cl.CheckOrganization(context.Background(), "acme"), codes.Unauthenticated,
			[]string{"refused the user name and password given in the Apigee API URL"},
			[]string{"Application Default Credentials", "pw"})
	})
	t.Run("https", func(t *testing.T) {
		fakeADC(t)
		srv := httptest.NewTLSServer(f)
		defer srv.Close()
		cl, err := NewClient(context.Background(), WithBaseURL(srv.URL), WithHTTPClient(srv.Client()), WithRateLimit(0))
		if err != nil {
			t.Fatal(err)
		}
		wantMessage(t, cl.CheckOrganization(context.Background(), "acme"), codes.Unauthenticated,
			[]string{"check the Application Default Credentials"}, []string{"without credentials"})
	})
}
