package apigee

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
)

// maxRetryAfter bounds how long a Retry-After header can make the client
// wait: Apigee's quota is per minute, so a longer wait is more likely a
// misconfigured proxy than advice worth following.
const maxRetryAfter = 5 * time.Minute

// retryClient is go-retryablehttp over hc for one request and its retry
// budget t: it retries 429, 5xx (but 501) and transport errors, timeouts
// included (but an oversized body), waits between tries as t decides, and
// stops at once when the request's context ends (during a wait too). It is
// made per request (a small struct) so that the retry policy sees the
// request's budget even for a try that got no response at all.
func retryClient(hc *http.Client, t *tries) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient: hc,
		// No count: t decides.
		RetryMax:   math.MaxInt32,
		CheckRetry: t.checkRetry,
		Backoff: func(time.Duration, time.Duration, int, *http.Response) time.Duration {
			return t.wait
		},
		RequestLogHook: func(retryablehttp.Logger, *http.Request, int) { t.attempts++ },
		// Keep the last response, so the caller can report the API's own
		// message instead of "giving up after N attempts".
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
}

// tries is the retry budget of one request and the decisions taken on it.
// The budget is a hard bound on retrying: no wait ends after it, so no try
// starts after it (a try started within it still has its own deadline,
// WithTimeout). The retry loop calls its methods from one goroutine.
type tries struct {
	start            time.Time
	budget           time.Duration // no wait ends, and no try starts, after start+budget
	max              int           // tries in all; 0: no cap
	minWait, maxWait time.Duration // bounds of the exponential backoff
	now              func() time.Time
	attempts         int
	// wait is the wait before the next try, decided by checkRetry.
	wait time.Duration
	// stopped says why retrying stopped while the answer was still one
	// to retry, following "N attempts over D"; "" when it did not.
	stopped string
	// retryAt is when the server's Retry-After said to call again, when
	// that is why retrying stopped.
	retryAt time.Time
}

// left is the time left of the budget, 0 when it is spent.
func (t *tries) left() time.Duration {
	return max(t.budget-t.now().Sub(t.start), 0)
}

// checkRetry decides whether a try is worth repeating, and if so how long
// to wait first (see next).
func (t *tries) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		// A refused token request will be refused again; anything else
		// (connection refused or reset, truncated body, a try out of
		// time) may pass next time.
		var tokenErr *oauth2.RetrieveError
		if errors.As(err, &tokenErr) && tokenErr.Response != nil && tokenErr.Response.StatusCode < 500 {
			return false, err
		}
		// An oversized body would be as large again, and each attempt
		// reads up to the cap of it.
		var tooLarge *tooLargeError
		if errors.As(err, &tooLarge) {
			return false, err
		}
	} else if !retryable(resp.StatusCode) {
		return false, nil
	}
	return t.next(resp), nil
}

// next decides whether another try fits in the budget and sets the wait
// before it: the server's Retry-After when it sent one (it knows when its
// quota refills), else exponential backoff with full jitter, a uniformly
// random wait between 0 and min*2^attempt, capped at max, so that many
// clients throttled together do not come back together. Either must end
// before the budget does: a Retry-After that would not gives up at once
// (trying earlier would only be refused again), and the jitter is drawn
// from what is left.
func (t *tries) next(resp *http.Response) bool {
	if t.max > 0 && t.attempts >= t.max {
		t.stopped = "the most allowed"
		return false
	}
	left := t.left()
	if left <= 0 {
		t.stopped = fmt.Sprintf("until the %v retry budget was spent", t.budget)
		return false
	}
	if resp != nil {
		if asked, ok := retryAfter(resp.Header.Get("Retry-After"), t.now()); ok {
			d := min(asked, maxRetryAfter)
			if d >= left {
				// Say what Apigee asked, not the clamped wait, and
				// when it may be called again.
				t.retryAt = t.now().Add(asked)
				if asked > t.budget {
					t.stopped = fmt.Sprintf("then Apigee asked to wait %v (Retry-After), longer than the whole %v retry budget, so it was not waited for",
						asked, t.budget)
				} else {
					t.stopped = fmt.Sprintf("then Apigee asked to wait %v (Retry-After), more than the %v left of the %v retry budget",
						asked, left.Round(time.Millisecond), t.budget)
				}
				return false
			}
			t.wait = d
			return true
		}
	}
	t.wait = jitter(t.minWait, t.maxWait, t.attempts-1, left)
	return true
}

func retryable(code int) bool {
	return code == http.StatusTooManyRequests || (code >= 500 && code != http.StatusNotImplemented)
}

// jitter is a full-jitter backoff wait after the given attempt (0 for the
// first), shorter than left.
func jitter(minWait, maxWait time.Duration, attempt int, left time.Duration) time.Duration {
	ceiling := maxWait
	if attempt >= 0 && attempt < 62 && minWait > 0 {
		if d := minWait << attempt; d > 0 && d < maxWait {
			ceiling = d
		}
	}
	ceiling = min(ceiling, left)
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling) // in [0, ceiling): the next try starts within the budget
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date. It
// is not bounded by maxRetryAfter: messages say what the server asked.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		// Whatever the server asked, as it asked it (see next for the
		// bound on waiting), up to what a Duration holds.
		return time.Duration(min(s, int64(math.MaxInt64/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// rateLimited is a transport that waits for the limiter before each try, so
// that retries count against the quota like any other call.
type rateLimited struct {
	limiter *rate.Limiter
	next    http.RoundTripper
}

func (t *rateLimited) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.limiter.Wait(req.Context()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}

// newLimiter spreads perMinute calls evenly, with a small burst so that a
// resumed export does not wait for its first call.
func newLimiter(perMinute int) *rate.Limiter {
	burst := max(1, perMinute/600)
	return rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)
}
