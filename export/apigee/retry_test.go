package apigee

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeClock is a clock that moves only when a test moves it, so that the
// budget decisions do not depend on how fast this machine is.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestRetryBudgetIsAHardBound: no wait ends after the retry budget, so no
// try starts after it, and the error that ends the retrying keeps the
// API's code and says the budget stopped it.
func TestRetryBudgetIsAHardBound(t *testing.T) {
	t.Run("Retry-After past the budget", func(t *testing.T) {
		// The server asks for 1s, the budget has 500ms: honouring it
		// would try again after the budget. Give up at once instead.
		f := newFakeAPI(t, nil)
		f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
			w.Header().Set("Retry-After", "1")
			googleErr(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "Quota exceeded")
			return true
		}
		c := f.client(t, WithRetryBudget(500*time.Millisecond))
		c.now = newFakeClock().now
		err := listErr(c.List("acme", APIProducts, Cursor{}))
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("got %v, want RESOURCE_EXHAUSTED", err)
		}
		if n := len(f.log()); n != 1 {
			t.Errorf("%d attempts, want 1: a wait of 1s does not fit in a budget of 500ms", n)
		}
		for _, want := range []string{"after 1 attempt, then Apigee asked to wait 1s (Retry-After)", "500ms retry budget", "Quota exceeded"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
	t.Run("tries stop when the budget is spent", func(t *testing.T) {
		// Each answer takes a second of the clock: tries at 0s, 1s and 2s
		// fit in 2.5s, a fourth would start after it.
		clock := newFakeClock()
		f := newFakeAPI(t, nil)
		f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
			clock.advance(time.Second)
			googleErr(w, http.StatusServiceUnavailable, "UNAVAILABLE", "backend error")
			return true
		}
		c := f.client(t, WithRetryBudget(2500*time.Millisecond), WithRetry(0, time.Millisecond, 5*time.Millisecond))
		c.now = clock.now
		err := listErr(c.List("acme", APIProducts, Cursor{}))
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v, want UNAVAILABLE", err)
		}
		if n := len(f.log()); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
		for _, want := range []string{"HTTP 503 after 3 attempts over 3s, until the 2.5s retry budget was spent", "backend error"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
}

// TestBackoffEndsWithinBudget: the wait before a retry is drawn from what
// is left of the budget, whether the try got an answer or none at all (a
// reset connection has no response to find the budget through), and
// nothing is retried once the budget is spent.
func TestBackoffEndsWithinBudget(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	tr := &tries{start: clock.now(), budget: time.Second, minWait: 10 * time.Second, maxWait: 30 * time.Second, now: clock.now}
	clock.advance(900 * time.Millisecond)
	answers := []struct {
		name string
		resp *http.Response
		err  error
	}{
		{"no answer", nil, errors.New("connection reset")},
		{"503", &http.Response{StatusCode: 503, Header: http.Header{}}, nil},
	}
	for _, a := range answers {
		for range 200 {
			tr.attempts = 1
			retry, _ := tr.checkRetry(ctx, a.resp, a.err)
			if !retry || tr.wait < 0 || tr.wait >= 100*time.Millisecond {
				t.Fatalf("%s with 100ms of the budget left: retry %v after %v; want a retry within the 100ms", a.name, retry, tr.wait)
			}
		}
	}
	clock.advance(100 * time.Millisecond)
	for _, a := range answers {
		if retry, _ := tr.checkRetry(ctx, a.resp, a.err); retry || !strings.Contains(tr.stopped, "1s retry budget was spent") {
			t.Errorf("%s with the budget spent: retry %v, stopped %q", a.name, retry, tr.stopped)
		}
	}
}
