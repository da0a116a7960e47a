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
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultRetryBudget is how long one request keeps being retried after
	// 429, 5xx or no answer. Apigee's quota is counted per minute, so a
	// budget shorter than a minute can give up inside one throttled window;
	// two minutes outlast a whole window with room to spare.
	DefaultRetryBudget = 2 * time.Minute
	// DefaultTimeout bounds one attempt, from sending the request to the
	// last byte of the answer: a page of 1000 records is a few MB, read in
	// well under a second, so an attempt past a minute is a connection
	// that hangs or drips, not a slow page.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxResponse is the most the client reads of one answer (see
	// WithMaxResponse).
	DefaultMaxResponse = 32 << 20
)

// Option configures a Client.
type Option func(*options)

type options struct {
	baseURL     string
	noAuth      bool
	httpClient  *http.Client
	attempts    int // 0: as many as the budget allows
	minBackoff  time.Duration
	maxBackoff  time.Duration
	budget      time.Duration
	timeout     time.Duration
	maxResponse int64
	perMinute   int
	pageSize    int
}

func defaultOptions() options {
	return options{
		minBackoff:  DefaultMinBackoff,
		maxBackoff:  DefaultMaxBackoff,
		budget:      DefaultRetryBudget,
		timeout:     DefaultTimeout,
		maxResponse: DefaultMaxResponse,
		perMinute:   DefaultRateLimit,
		pageSize:    DefaultPageSize,
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

// WithRetry caps how often a request answered 429 or 5xx (or not answered
// in time) is tried in all, within the retry budget (WithRetryBudget), and
// sets the bounds of the exponential backoff between tries. attempts < 1
// means no cap: the budget alone decides, which is the default.
func WithRetry(attempts int, minBackoff, maxBackoff time.Duration) Option {
	return func(o *options) {
		o.attempts = max(attempts, 0)
		o.minBackoff = max(minBackoff, 0)
		o.maxBackoff = max(maxBackoff, o.minBackoff)
	}
}

// WithRetryBudget sets how long one request is retried, from its first
// try, before the client gives up on it (DefaultRetryBudget). It is a hard
// bound on retrying: no wait between tries ends after it, so no try starts
// after it (a try started within it still has its WithTimeout deadline).
// Backoff waits are drawn from what is left of it; when the server's
// Retry-After (honoured up to 5 minutes) would end after it, the client
// gives up at once with the last answer, and the error names the budget.
// budget <= 0 means a single try.
func WithRetryBudget(budget time.Duration) Option {
	return func(o *options) { o.budget = max(budget, 0) }
}

// WithTimeout bounds each try of a request, from sending it to reading the
// last byte of its answer (DefaultTimeout). A try that runs out of time
// counts as a failure to retry within the budget, as a connection reset
// does. timeout <= 0 means DefaultTimeout: no request may wait forever.
func WithTimeout(timeout time.Duration) Option {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return func(o *options) { o.timeout = timeout }
}

// WithMaxResponse sets the most the client reads of one answer
// (DefaultMaxResponse). A list page over it is asked for again with half
// the records, down to a single one; only a single record over it fails
// the listing. Tests use a small cap instead of pages of 32 MiB.
func WithMaxResponse(n int64) Option {
	if n <= 0 {
		n = DefaultMaxResponse
	}
	return func(o *options) { o.maxResponse = n }
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
