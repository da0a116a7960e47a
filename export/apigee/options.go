package apigee

import (
	"net/http"
	"time"
)

// DefaultBaseURL is the Apigee management API.
const DefaultBaseURL = "https://apigee.googleapis.com"

// Defaults. Apigee's quota is 6000 management calls a minute per project, and
// its list methods return at most 1000 records a page.
const (
	DefaultRateLimit  = 6000 // calls a minute
	DefaultPageSize   = 1000
	MaxPageSize       = 1000
	DefaultAttempts   = 8
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// Option configures a Client.
type Option func(*options)

type options struct {
	baseURL    string
	noAuth     bool
	httpClient *http.Client
	attempts   int
	minBackoff time.Duration
	maxBackoff time.Duration
	perMinute  int
	pageSize   int
}

func defaultOptions() options {
	return options{
		attempts:   DefaultAttempts,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
		perMinute:  DefaultRateLimit,
		pageSize:   DefaultPageSize,
	}
}

// WithBaseURL points the client at another API host, such as the emulator
// (http://127.0.0.1:PORT) or a proxy. Without it NewClient uses the
// APIGEE_API_URL environment variable, else DefaultBaseURL.
// An http:// URL gets no credentials (see NewClient).
func WithBaseURL(u string) Option { return func(o *options) { o.baseURL = u } }

// WithoutAuthentication sends requests without credentials: for the emulator,
// which has none to check.
func WithoutAuthentication() Option { return func(o *options) { o.noAuth = true } }

// WithHTTPClient sets the client whose transport carries the requests; the
// client adds authentication and rate limiting on top of its transport, and
// replaces its CheckRedirect so that redirects are never followed.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithRetry sets how often a request answered 429 or 5xx (or not answered)
// is tried in all, and the bounds of the exponential backoff between tries.
// attempts < 1 means 1 (no retries).
func WithRetry(attempts int, minBackoff, maxBackoff time.Duration) Option {
	return func(o *options) {
		o.attempts = max(attempts, 1)
		o.minBackoff = max(minBackoff, 0)
		o.maxBackoff = max(maxBackoff, o.minBackoff)
	}
}

// WithRateLimit caps the calls a minute the client makes, retries included,
// so that an export stays inside the project's Apigee quota instead of
// provoking 429s. perMinute <= 0 removes the cap.
func WithRateLimit(perMinute int) Option { return func(o *options) { o.perMinute = perMinute } }

// WithPageSize sets the records asked for per page, at most MaxPageSize
// (Apigee's cap; larger values are cut to it). Key paging repeats the last
// record of a page at the top of the next, so a page must hold at least 2:
// smaller values are raised to 2.
func WithPageSize(n int) Option {
	return func(o *options) { o.pageSize = min(max(n, 2), MaxPageSize) }
}
