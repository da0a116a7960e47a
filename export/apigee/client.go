package apigee

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/grpc/codes"
)

// Scope is the OAuth scope every Apigee management method needs.
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// maxBody bounds one response: a page of 1000 apps with credentials is a few
// MB, so anything near this is not an Apigee page.
const maxBody = 256 << 20

// Client calls the Apigee management API. It is safe for concurrent use.
type Client struct {
	base     string
	http     *retryablehttp.Client
	attempts int
	pageSize int
}

// NewClient makes a client for the API at DefaultBaseURL (or WithBaseURL, or
// $APIGEE_API_URL). Unless WithoutAuthentication is given it authenticates
// with Application Default Credentials and fails with UNAUTHENTICATED when
// there are none, before any export work starts.
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
		return nil, newError(codes.InvalidArgument, err, "invalid Apigee API URL %q: want a base URL such as %s or http://127.0.0.1:8080", o.baseURL, DefaultBaseURL)
	}

	hc := &http.Client{}
	if o.httpClient != nil {
		*hc = *o.httpClient
	}
	transport := hc.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	if !o.noAuth {
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
		base:     strings.TrimRight(o.baseURL, "/"),
		http:     newRetryClient(hc, o.attempts, o.minBackoff, o.maxBackoff),
		attempts: o.attempts,
		pageSize: o.pageSize,
	}, nil
}

// CheckOrganization reads the organization, so that a wrong name or missing
// permission fails before an export writes anything: NOT_FOUND,
// PERMISSION_DENIED or UNAUTHENTICATED with the API's message.
func (c *Client) CheckOrganization(ctx context.Context, org string) error {
	if err := checkOrg(org); err != nil {
		return err
	}
	_, err := c.get(ctx, c.orgURL(org))
	if status, ok := httpStatus(err); ok && status == http.StatusNotFound {
		return newError(codes.NotFound, err, "Apigee organization %q not found: check --org (%v)", org, err)
	}
	return err
}

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
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

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
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, newError(codes.InvalidArgument, err, "building request %s: %v", u, err)
	}
	req.Header.Set("Accept", "application/json")
	var body []byte
	attempts := 0
	req.SetResponseHandler(func(resp *http.Response) error {
		attempts++
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("reading the response: %w", err)
		}
		if len(b) > maxBody {
			return fmt.Errorf("response larger than %d bytes", maxBody)
		}
		body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return nil
	})
	resp, err := c.http.Do(req)
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
	if err != nil && resp == nil {
		return nil, newError(codes.Unavailable, err, "GET %s: no answer after %d attempts: %v%s", u, c.attempts, err, hint(codes.Unavailable))
	}
	if err != nil && resp.StatusCode == http.StatusOK {
		// Retries exhausted while reading 200 bodies.
		return nil, newError(codes.Unavailable, err, "GET %s: %v after %d attempts", u, err, c.attempts)
	}
	if resp.StatusCode != http.StatusOK {
		if body == nil {
			// A retried status: the retry loop stopped before the handler.
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		}
		n := attempts
		if retryable(resp.StatusCode) {
			n = c.attempts
		}
		return nil, &statusError{status: resp.StatusCode, err: responseError(http.MethodGet, u, resp.StatusCode, n, body)}
	}
	return body, nil
}
