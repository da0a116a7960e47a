package apigee

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"pubexport/formats/field"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/grpc/codes"
)

// Scope is the OAuth scope every Apigee management method needs.
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// Client calls the Apigee management API. It is safe for concurrent use.
//
// Every try of a request has a deadline for the whole answer (WithTimeout),
// and a request is retried within a budget of time (WithRetryBudget), so no
// call waits forever on an endpoint that accepts and never answers, or
// drips its answer a byte at a time.
//
// The client reads at most WithMaxResponse bytes of one answer
// (DefaultMaxResponse, 32 MiB). Reading stops at the limit and the try is
// not retried: every attempt would read (and hold) as much again. A list
// page over it is asked for again with fewer records (see list.go).
type Client struct {
	base        string        // without user information
	user        *url.Userinfo // from the base URL, for basic authentication
	hc          *http.Client  // one try; retryClient retries
	minBackoff  time.Duration
	maxBackoff  time.Duration
	attempts    int
	budget      time.Duration
	timeout     time.Duration
	maxResponse int64
	pageSize    int
	creds       credentials // what requests carry, for the advice on a 401
	now         func() time.Time
}

// NewClient makes a client for the API at DefaultBaseURL (or WithBaseURL, or
// $APIGEE_API_URL). Unless WithoutAuthentication is given it authenticates
// with Application Default Credentials and fails with UNAUTHENTICATED when
// there are none, before any export work starts.
//
// Credentials are only ever sent over https: for an http:// base URL (the
// emulator, a local proxy; the scheme in any case, so HTTP:// too) the client
// sends no credentials at all, as with WithoutAuthentication, because an
// access token in clear text can be read and replayed by anyone on the path.
// The client does not follow redirects either, since the token would go
// with the redirected request to whatever host the Location names; the
// Apigee API does not redirect, so a 3xx answer fails with
// FAILED_PRECONDITION.
func NewClient(ctx context.Context, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.baseURL == "" {
		o.baseURL = os.Getenv("APIGEE_API_URL")
	}
	if o.baseURL == "" {
		o.baseURL = DefaultBaseURL
	}
	u, err := url.Parse(o.baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, newError(codes.InvalidArgument, err, "invalid Apigee API URL %q: want a base URL such as %s or http://127.0.0.1:8080", RedactURL(o.baseURL), DefaultBaseURL)
	}
	// A user:password in the URL is sent as basic authentication on every
	// request, and kept out of the URLs the client builds: those end up in
	// messages, logs and operation records.
	user := u.User
	u.User = nil

	hc := &http.Client{}
	if o.httpClient != nil {
		*hc = *o.httpClient
	}
	transport := hc.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	// No redirects: the transport below adds the token to every request,
	// including one to another host.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// One deadline per try, headers and body alike: http.Client's Timeout
	// keeps running while the body is read.
	if hc.Timeout <= 0 || hc.Timeout > o.timeout {
		hc.Timeout = o.timeout
	}
	creds := credsNone
	if user != nil {
		creds = credsBasic
	}
	// url.Parse lowercases the scheme, so "HTTP://" is http here.
	if !o.noAuth && u.Scheme == "https" {
		creds = credsADC
		creds, err := google.FindDefaultCredentials(ctx, Scope)
		if err != nil {
			return nil, newError(codes.Unauthenticated, err, "no Application Default Credentials for the Apigee API: run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS (%v)", err)
		}
		transport = &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, creds.TokenSource), Base: transport}
	}
	if o.perMinute > 0 {
		transport = &rateLimited{limiter: newLimiter(o.perMinute), next: transport}
	}
	hc.Transport = transport

	return &Client{
		base:        strings.TrimRight(u.String(), "/"),
		user:        user,
		hc:          hc,
		minBackoff:  o.minBackoff,
		maxBackoff:  o.maxBackoff,
		attempts:    o.attempts,
		budget:      o.budget,
		timeout:     hc.Timeout,
		maxResponse: o.maxResponse,
		pageSize:    o.pageSize,
		creds:       creds,
		now:         time.Now,
	}, nil
}

// CheckOrganization reads the organization, so that a wrong name or missing
// permission fails before an export writes anything: NOT_FOUND,
// PERMISSION_DENIED or UNAUTHENTICATED with the API's message.
//
// Reading the organization (organizations.get) is not one of the methods
// an export needs, and a principal allowed to list developers, apps and
// API products may not be allowed it. Its PERMISSION_DENIED (HTTP 403)
// therefore also matches ErrOrganizationUnreadable, and a caller that can
// let the first list page decide instead (see export's prepare) should.
func (c *Client) CheckOrganization(ctx context.Context, org string) error {
	if err := checkOrg(org); err != nil {
		return err
	}
	_, err := c.get(ctx, c.orgURL(org))
	switch status, _ := httpStatus(err); status {
	case http.StatusNotFound:
		return fieldError(codes.NotFound, &field.Error{Field: field.Organization, Value: org,
			Problem: fmt.Sprintf("Apigee organization %q not found", org), Valid: "check the organization name", Err: err})
	case http.StatusForbidden:
		return unreadableError{err}
	}
	return err
}

// ErrOrganizationUnreadable matches CheckOrganization's error when the API
// denied reading the organization itself (HTTP 403): the lists an export
// makes may still be allowed.
var ErrOrganizationUnreadable = errors.New("reading the Apigee organization was denied")

// unreadableError is a 403 from organizations.get: the API's
// PERMISSION_DENIED that also matches ErrOrganizationUnreadable.
type unreadableError struct{ error }

func (e unreadableError) Unwrap() error        { return e.error }
func (e unreadableError) Is(target error) bool { return target == ErrOrganizationUnreadable }

func checkOrg(org string) error {
	if org == "" || strings.ContainsAny(org, "/?#") {
		return newError(codes.InvalidArgument, nil, "invalid Apigee organization %q: want the organization name, such as my-project", org)
	}
	return nil
}

func (c *Client) orgURL(org string) string {
	return c.base + "/v1/organizations/" + url.PathEscape(org)
}

// statusError is a final non-200 answer; it keeps the HTTP status for
// callers that treat some statuses specially (404 on a follow-up page).
type statusError struct {
	status int
	err    error
	apiMsg string // the API's own message (see apiMessage)
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// apiMessageOf is the API's own message in err's final answer, "" if
// none.
func apiMessageOf(err error) string {
	var se *statusError
	if errors.As(err, &se) {
		return se.apiMsg
	}
	return ""
}

func httpStatus(err error) (int, bool) {
	var se *statusError
	if errors.As(err, &se) {
		return se.status, true
	}
	return 0, false
}

// get fetches one URL with retries and returns the body of its 200 answer.
// The body is read inside the retry loop, so that a connection lost in the
// middle of a page is retried like one lost before the headers.
func (c *Client) get(ctx context.Context, u string) ([]byte, error) {
	return c.getSized(ctx, u, 0)
}

// getSized is get for an answer expected to be about sizeHint bytes (the
// listing's last page): see readBody.
func (c *Client) getSized(ctx context.Context, u string, sizeHint int) ([]byte, error) {
	t := &tries{start: c.now(), budget: c.budget, max: c.attempts, minWait: c.minBackoff, maxWait: c.maxBackoff, now: c.now}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, newError(codes.InvalidArgument, err, "building request %s: %v", RedactURL(u), err)
	}
	u = req.URL.Redacted() // for messages: never a password in the base URL
	req.Header.Set("Accept", "application/json")
	if c.user != nil {
		pw, _ := c.user.Password()
		req.SetBasicAuth(c.user.Username(), pw)
	}
	var body []byte
	limit := c.maxResponse
	req.SetResponseHandler(func(resp *http.Response) error {
		defer resp.Body.Close()
		if resp.ContentLength > limit {
			return &tooLargeError{limit: limit}
		}
		b, err := readBody(io.LimitReader(resp.Body, limit+1), resp.ContentLength, sizeHint)
		if err != nil {
			return fmt.Errorf("reading the response: %w", err)
		}
		if int64(len(b)) > limit {
			return &tooLargeError{limit: limit}
		}
		body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return nil
	})
	resp, err := retryClient(c.hc, t).Do(req)
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if ctx.Err() != nil {
		return nil, contextError(ctx.Err(), "GET "+u)
	}
	var tokenErr *oauth2.RetrieveError
	if errors.As(err, &tokenErr) {
		return nil, newError(codes.Unauthenticated, err, "GET %s: getting an access token: %v%s", u, err, hint(codes.Unauthenticated))
	}
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		return nil, newError(codes.FailedPrecondition, err,
			"GET %s: the response is larger than %s, the most this client reads of one answer", u, mib(tooLarge.limit))
	}
	n := t.attempts
	tried := fmt.Sprintf("%d %s over %v", n, pluralWord(n, "attempt"), c.now().Sub(t.start).Round(time.Second))
	if n == 1 {
		tried = "1 attempt"
	}
	if t.stopped != "" {
		tried += ", " + t.stopped
	}
	if err != nil && (resp == nil || resp.StatusCode == http.StatusOK) {
		// No answer, or 200s whose bodies could not be read, until the
		// budget ran out.
		if isTimeout(err) {
			return nil, newError(codes.DeadlineExceeded, err,
				"GET %s: Apigee did not answer within %v on any of %s (each try has that long to send its whole answer): %v%s",
				u, c.timeout, tried, err, hint(codes.Unavailable))
		}
		if why := unreachable(err); why != "" {
			// Waiting will not help a wrong URL: say which one to check.
			fe := apiURLError(fmt.Sprintf("the Apigee API at %s cannot be reached (%s)", RedactURL(c.base), why))
			return nil, newError(codes.Unavailable, fe, "GET %s: no answer after %s: %v: %v", u, tried, err, fe)
		}
		return nil, newError(codes.Unavailable, err, "GET %s: no answer after %s: %v%s", u, tried, err, hint(codes.Unavailable))
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, &statusError{status: resp.StatusCode, err: redirectError(u, resp)}
	}
	if resp.StatusCode != http.StatusOK {
		if body == nil {
			// A retried status: the retry loop stopped before the handler.
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		}
		if !retryable(resp.StatusCode) {
			tried = ""
		}
		msg, _ := apiMessage(body)
		adv := func(code codes.Code) string { return advice(code, c.creds, t.retryAt) }
		return nil, &statusError{status: resp.StatusCode, err: responseError(http.MethodGet, u, resp.StatusCode, tried, body, adv), apiMsg: msg}
	}
	return body, nil
}

// readBody reads r to the end into a buffer sized up front: to the
// Content-Length when the answer has one, else to a little over sizeHint.
// io.ReadAll starts at 512 bytes and doubles, which for a 0.8 MB page of
// apps allocates (and zeroes) about twice the page: half of all the bytes an
// export allocated, and so half of its garbage collections. Pages of one
// listing are alike in size, so the last one is a good guess; a longer
// answer still grows the buffer as io.ReadAll would.
func readBody(r io.Reader, contentLength int64, sizeHint int) ([]byte, error) {
	n := 512
	switch {
	case contentLength >= 0 && contentLength < 1<<30:
		n = int(contentLength) + 1 // the read that meets io.EOF needs room too
	case sizeHint > 0 && sizeHint < 1<<30:
		n = sizeHint + sizeHint/8 + 512
	}
	b := make([]byte, 0, n)
	for {
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append choose the growth
		}
	}
}

// unreachable says why err, a try that got no answer, means that the base
// URL's host cannot be reached at all (its name does not resolve, nothing
// listens at its port, no route leads to it), or "" when it does not.
func unreachable(err error) string {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fmt.Sprintf("its host name %q does not resolve", dns.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at that address"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to its host"
	}
	return ""
}

// isTimeout reports whether err is a try that ran out of time.
func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout())
}

func mib(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// tooLargeError is a response body past the client's cap. checkRetry does
// not retry it: the next attempt would most likely be as large.
type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("response body larger than %d bytes", e.limit)
}

// redirectError is the error for a 3xx answer, which the client does not
// follow (see NewClient). FAILED_PRECONDITION, not UNAVAILABLE: the Apigee
// API never redirects, so the answer comes from something else at the base
// URL (a proxy, a load balancer moving http to https, a wrong host), and
// trying again later would meet the same redirect; the configuration has to
// change.
func redirectError(u string, resp *http.Response) error {
	to := "no Location"
	if loc, err := resp.Location(); err == nil {
		// Where it points, without query or fragment, which might hold
		// something of the redirecting server's.
		to = (&url.URL{Scheme: loc.Scheme, Host: loc.Host, Path: loc.Path}).String()
	}
	fe := apiURLError("the Apigee API does not redirect, so the client does not follow it (the request carries credentials)")
	fe.Valid += " (use https:// when the redirect is from http to https)"
	return newError(codes.FailedPrecondition, fe, "GET %s: HTTP %d redirect to %s: %v", u, resp.StatusCode, to, fe)
}
