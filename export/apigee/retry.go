package apigee

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
)

// maxRetryAfter bounds how long a Retry-After header can make the client
// wait: Apigee's quota is per minute, so a longer wait is more likely a
// misconfigured proxy than advice worth following.
const maxRetryAfter = 5 * time.Minute

// newRetryClient wraps hc in go-retryablehttp: it retries 429, 5xx (but
// 501) and transport errors, timeouts included (but an oversized body),
// until the request's retry budget runs out (see tries), waits between
// tries with the backoff below, and stops at once when the request's
// context ends (during a wait too).
func newRetryClient(hc *http.Client, minBackoff, maxBackoff time.Duration) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient:   hc,
		RetryWaitMin: minBackoff,
		RetryWaitMax: maxBackoff,
		// No count: the budget in each request's tries decides.
		RetryMax:   math.MaxInt32,
		CheckRetry: checkRetry,
		Backoff:    backoff,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, _ int) {
			if t := triesOf(req.Context()); t != nil {
				t.attempts.Add(1)
			}
		},
		// Keep the last response, so the caller can report the API's own
		// message instead of "giving up after N attempts".
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
}

// tries is the retry budget of one request, carried in its context so that
// checkRetry and backoff, which the retry loop calls without the request's
// identity, can see it.
type tries struct {
	start    time.Time
	budget   time.Duration // retries stop once this much time has passed
	max      int           // tries in all; 0: no cap
	attempts atomic.Int32
	now      func() time.Time
}

type triesKey struct{}

func withTries(ctx context.Context, t *tries) context.Context {
	return context.WithValue(ctx, triesKey{}, t)
}

func triesOf(ctx context.Context) *tries {
	t, _ := ctx.Value(triesKey{}).(*tries)
	return t
}

// left is the time left of the budget, 0 when it is spent.
func (t *tries) left() time.Duration {
	return max(t.budget-t.now().Sub(t.start), 0)
}

// more reports whether another try is allowed.
func (t *tries) more() bool {
	if t.max > 0 && int(t.attempts.Load()) >= t.max {
		return false
	}
	return t.left() > 0
}

// checkRetry decides whether a try is worth repeating.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	retry := false
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
		retry = true
	} else {
		retry = retryable(resp.StatusCode)
	}
	if retry {
		if t := triesOf(ctx); t != nil && !t.more() {
			return false, nil
		}
	}
	return retry, nil
}

func retryable(code int) bool {
	return code == http.StatusTooManyRequests || (code >= 500 && code != http.StatusNotImplemented)
}

// backoff is exponential backoff with full jitter (a uniformly random wait
// between 0 and min*2^attempt, capped at max), so that many clients throttled
// together do not come back together, cut to what is left of the request's
// budget so that its last try comes when the budget ends. A Retry-After
// header overrides it: the server knows when its quota refills.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	var t *tries
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, maxRetryAfter)
		}
		if resp.Request != nil {
			t = triesOf(resp.Request.Context())
		}
	}
	ceiling := maxWait
	if attempt < 62 && minWait > 0 {
		if d := minWait << attempt; d > 0 && d < maxWait {
			ceiling = d
		}
	}
	if ceiling <= 0 {
		return 0
	}
	d := rand.N(ceiling + 1)
	if t != nil {
		d = min(d, t.left())
	}
	return d
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(s) * time.Second, true
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
