package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Options shape how the emulator misbehaves. The zero value is a fast,
// well-behaved server.
type Options struct {
	// Latency is added to every list page and to the organization read
	// (not to other gets or to writes), to make paging cost visible the way
	// it is against the real API, and the round trip every client pays
	// before its first page.
	Latency time.Duration
	// FaultRate is the share of requests answered 429 or 503 (alternately)
	// instead of being served. The failing requests follow a fixed sequence
	// (evenly spread: 0.1 fails every 10th request) so a test sees the same
	// faults on every run. Values are clamped to [0, 1].
	FaultRate float64
	// FaultRetryAfter is the Retry-After of the injected 503s, in whole
	// seconds (rounded up); zero means 1 s. A negative value sends none,
	// as many of Google's 503s do, so that a client falls back to its own
	// backoff: tests that meet many faults use it to wait milliseconds,
	// not a second a fault. The injected 429s always say 0.
	FaultRetryAfter time.Duration
	// RateLimit is the number of requests served per minute (a token bucket
	// holding one minute's worth); past it the answer is 429
	// RESOURCE_EXHAUSTED with a Retry-After, like Apigee's API quota.
	// 0 means no limit.
	RateLimit int
	// Throttle answers every request 429 RESOURCE_EXHAUSTED, with
	// Retry-After: 1, for this long from the first request: a project whose
	// Apigee quota is spent for a while (the quota is counted per minute).
	Throttle time.Duration
	// Hang accepts every request and never answers it (until the client
	// gives up or the server closes): a stuck proxy or backend.
	Hang bool
	// Drip sends every answer's headers at once and then its body one byte
	// at a time, Drip apart: a connection that never quite stalls.
	Drip time.Duration
	// FutureFields adds to every listed record what Apigee may add
	// tomorrow: a field these protos do not have (futureField, and
	// futureSetting inside an API product's operationGroup), and on API
	// products the quotaCounterScope value API_SOURCE instead of PROXY.
	FutureFields bool
	// DeveloperExpand is how developers.list treats expand=true next to
	// count or startKey (see ExpandMode); the zero value expands anyway.
	DeveloperExpand ExpandMode
	// StartKeyNeedsCount ignores a developers.list startKey sent without
	// count, so that the page starts at the list's beginning: the
	// reference says startKey "Must be used in conjunction with the count
	// parameter" and not what the API does otherwise. Whether the page is
	// expanded is still decided on the request as sent (DeveloperExpand).
	StartKeyNeedsCount bool
	// KeylessApps is where the apps list shows an app without credentials
	// (see KeylessMode); the zero value lists it under keyStatus=approved.
	KeylessApps KeylessMode
	// DeniedSpaces are Apigee Spaces whose API products the caller may not
	// list or get (IAM is checked against the Space, apiproducts.list's
	// parent parameter says): apiproducts.list leaves them out ("If the
	// resource has the space attribute set, the response may not return all
	// resources"), and a get of one, or a list with space= one of them,
	// answers 403 PERMISSION_DENIED.
	DeniedSpaces []string
	// EmptyForMissingStartKey answers a developers or API products list
	// whose startKey no record has (one deleted while a client pages) with
	// an empty page instead of 404. The reference does not say what Apigee
	// answers; apigee-client-php reports 404 from Edge, the default here.
	EmptyForMissingStartKey bool
	// SpacesAfterCount leaves the products of DeniedSpaces out of an
	// apiproducts.list page after count has been cut, so that a page can
	// come back short with more products after it; without it they are
	// left out first and every page but the last is full. The reference
	// does not say which Apigee does.
	SpacesAfterCount bool
	// Deny lists IAM permissions the caller lacks, such as
	// "apigee.organizations.get" or "apigee.developers.list": a read
	// method that needs one answers 403 PERMISSION_DENIED naming it, as
	// Google does, before it looks at the organization (see permissions).
	Deny []string
	// AppsPaging is what an apps nextPageToken means, or whether the
	// organization predates token paging (see AppsPaging); the zero value
	// answers plain decimal index tokens, the most literal reading of the
	// reference.
	AppsPaging AppsPaging
	// TotalSizeAll makes every apps.list page's totalSize count every app
	// of the organization, whatever status and keyStatus filter the page:
	// the reference says only "Total count of Apps", which does not say
	// whether the filters apply. The zero value counts the filtered list.
	TotalSizeAll bool
	// Intercept, when set, sees every request first; returning true means it
	// answered and the emulator does nothing more. Tests use it to inject
	// malformed bodies or count calls.
	Intercept func(w http.ResponseWriter, r *http.Request) bool
	// Logger receives one debug record per request and the reason for
	// injected faults. nil logs nothing.
	Logger *slog.Logger
	// Prerender renders every record before serving and then keeps only
	// the rendered bytes. Starting takes longer, but no page pays for
	// rendering and a large org needs about half the memory. The binary
	// sets it; tests need not. Records are otherwise rendered on first use.
	Prerender bool
}

func (o Options) validate() error {
	if o.Latency < 0 {
		return status.Errorf(codes.InvalidArgument, "emulator: latency %v is negative", o.Latency)
	}
	if math.IsNaN(o.FaultRate) || o.FaultRate < 0 || o.FaultRate > 1 {
		return status.Errorf(codes.InvalidArgument, "emulator: fault rate %v is not between 0 and 1", o.FaultRate)
	}
	if o.RateLimit < 0 {
		return status.Errorf(codes.InvalidArgument, "emulator: rate limit %d is negative", o.RateLimit)
	}
	if o.Throttle < 0 || o.Drip < 0 {
		return status.Errorf(codes.InvalidArgument, "emulator: throttle %v or drip %v is negative", o.Throttle, o.Drip)
	}
	if o.KeylessApps < KeylessApproved || o.KeylessApps > KeylessNone {
		return status.Errorf(codes.InvalidArgument, "emulator: %v is not a keyless mode", o.KeylessApps)
	}
	if o.AppsPaging < AppsIndexTokens || o.AppsPaging > AppsPre110 {
		return status.Errorf(codes.InvalidArgument, "emulator: %v is not an apps paging mode", o.AppsPaging)
	}
	if o.DeveloperExpand < ExpandHonoured || o.DeveloperExpand > ExpandRejected {
		return status.Errorf(codes.InvalidArgument, "emulator: %v is not an expand mode", o.DeveloperExpand)
	}
	known := slices.Sorted(maps.Values(permissions))
	for _, p := range o.Deny {
		if !slices.Contains(known, p) {
			// A typo would deny nothing and pass for a test of it.
			return status.Errorf(codes.InvalidArgument, "emulator: cannot deny %q: the emulator checks only %s", p, strings.Join(known, ", "))
		}
	}
	return nil
}

// Server is an emulator listening on loopback.
type Server struct {
	// URL is the base URL to give a client: http://127.0.0.1:PORT (no
	// trailing slash; paths start with /v1/).
	URL string
	srv *http.Server
	h   *handler
}

// Start serves d on 127.0.0.1 at a free port until Close. The server keeps
// its own copy of d's record lists: later changes to d are not seen, and
// write requests do not change d. The records themselves are shared, so d's
// messages must not be modified while the server runs.
func Start(d *Data, o Options) (*Server, error) {
	h, err := newHandler(d, o)
	if err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "emulator: listen on loopback: %v", err)
	}
	s := &Server{
		URL: "http://" + ln.Addr().String(),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		h:   h,
	}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server and drops its connections at once; requests in
// flight fail, as they would if the real API went away.
func (s *Server) Close() {
	s.srv.Close()
}

// Shutdown stops accepting requests and waits for those in flight, for a
// graceful stop of the emulator binary.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// NewHandler returns the emulator as an http.Handler, to mount in another
// server. Invalid data or options (duplicate keys, a fault rate above 1) make
// every request fail with 500 and the reason, since a handler cannot return
// an error; Start reports the same problems as an error instead.
func NewHandler(d *Data, o Options) http.Handler {
	h, err := newHandler(d, o)
	if err == nil {
		err = o.validate()
	}
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, errorf(http.StatusInternalServerError, "INTERNAL", "%v", err), -1)
		})
	}
	return h
}

// handler is the emulator: the organizations, the knobs and the routes.
type handler struct {
	orgs     map[string]*orgState
	opts     Options
	faults   *faults
	limit    *bucket
	throttle *throttle
	mux      *http.ServeMux
	now      func() time.Time
	newUUID  func() string
	// epoch is the apps page tokens' epoch: a token minted in an earlier
	// one is refused (see Server.ExpirePageTokens).
	epoch atomic.Uint64
}

func newHandler(d *Data, o Options) (*handler, error) {
	h := &handler{
		orgs:    map[string]*orgState{},
		opts:    o,
		faults:  newFaults(o.FaultRate),
		now:     time.Now,
		newUUID: randomUUID,
	}
	if o.RateLimit > 0 {
		h.limit = newBucket(o.RateLimit, time.Now)
	}
	if o.Throttle > 0 {
		h.throttle = &throttle{span: o.Throttle, now: time.Now}
	}
	if d != nil {
		for _, org := range d.Orgs {
			if _, dup := h.orgs[org.Name]; dup {
				return nil, status.Errorf(codes.InvalidArgument, "emulator: organization %q appears twice", org.Name)
			}
			s, err := newOrgState(org)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "emulator: %v", err)
			}
			h.orgs[org.Name] = s
		}
	}
	if o.Prerender {
		for _, s := range h.orgs {
			s.devs.prerender()
			s.apps.prerender()
			s.products.prerender()
		}
	}
	h.routes()
	return h, nil
}

// routes registers one pattern per resource path with every method, so that
// the handler itself can answer 405 in Google's error shape (ServeMux's own
// 404 and 405 answers are plain text).
func (h *handler) routes() {
	m := http.NewServeMux()
	m.HandleFunc("/v1/organizations/{org}", h.org(h.organization))
	m.HandleFunc("/v1/organizations/{org}/developers", h.org(h.developers))
	m.HandleFunc("/v1/organizations/{org}/developers/{email}", h.org(h.developer))
	m.HandleFunc("/v1/organizations/{org}/developers/{email}/attributes", h.org(h.developerAttributes))
	m.HandleFunc("/v1/organizations/{org}/developers/{email}/apps", h.org(h.developerApps))
	m.HandleFunc("/v1/organizations/{org}/developers/{email}/apps/{app}", h.org(h.developerApp))
	m.HandleFunc("/v1/organizations/{org}/apps", h.org(h.apps))
	m.HandleFunc("/v1/organizations/{org}/apps/{app}", h.org(h.app))
	m.HandleFunc("/v1/organizations/{org}/apiproducts", h.org(h.apiProducts))
	m.HandleFunc("/v1/organizations/{org}/apiproducts/{product}", h.org(h.apiProduct))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("the emulator serves no resource at %s", r.URL.Path), -1)
	})
	h.mux = m
}

// permissions names the IAM permission of each read method, by HTTP method
// and route, for Options.Deny.
var permissions = map[string]string{
	"GET /v1/organizations/{org}":                               "apigee.organizations.get",
	"GET /v1/organizations/{org}/developers":                    "apigee.developers.list",
	"GET /v1/organizations/{org}/developers/{email}":            "apigee.developers.get",
	"GET /v1/organizations/{org}/developers/{email}/apps":       "apigee.developerapps.list",
	"GET /v1/organizations/{org}/developers/{email}/apps/{app}": "apigee.developerapps.get",
	"GET /v1/organizations/{org}/apps":                          "apigee.apps.list",
	"GET /v1/organizations/{org}/apps/{app}":                    "apigee.apps.get",
	"GET /v1/organizations/{org}/apiproducts":                   "apigee.apiproducts.list",
	"GET /v1/organizations/{org}/apiproducts/{product}":         "apigee.apiproducts.get",
}

// orgHandler serves one path of a known organization; a non-nil error is
// answered in Google's shape.
type orgHandler func(w http.ResponseWriter, r *http.Request, o *orgState) error

// org resolves {org} (404 for an unknown one, as apigee.googleapis.com does
// for an organization the caller may see) and answers errors. A request
// that needs a permission of Options.Deny gets 403 first, as Google checks
// IAM before existence.
func (h *handler) org(f orgHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("org")
		o := h.orgs[name]
		var err error
		if p := permissions[r.Method+" "+r.Pattern]; p != "" && slices.Contains(h.opts.Deny, p) {
			err = permissionDenied(p, "organizations/"+name)
		} else if o == nil {
			err = notFound("organization %q not found", name)
		} else {
			err = f(w, r, o)
		}
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = errorf(http.StatusInternalServerError, "INTERNAL", "%v", err)
			}
			writeError(w, ae, -1)
		}
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.Logger == nil {
		h.serve(w, r)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	h.serve(rec, r)
	h.opts.Logger.LogAttrs(r.Context(), slog.LevelDebug, "apigee emulator request",
		slog.String("method", r.Method), slog.String("uri", r.URL.RequestURI()),
		slog.Int("status", rec.code), slog.Int64("bytes", rec.n), slog.Duration("took", time.Since(start)))
}

// serve applies the knobs in the order a real front end would: the test hook
// first, then the quota, then injected faults, then the API itself.
func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	if h.opts.Intercept != nil && h.opts.Intercept(w, r) {
		return
	}
	if h.opts.Hang {
		h.logFault(r, "hang", 0)
		<-r.Context().Done()
		return
	}
	if h.opts.Drip > 0 {
		w = &dripWriter{ResponseWriter: w, ctx: r.Context(), every: h.opts.Drip}
	}
	if h.throttle != nil && h.throttle.on() {
		h.logFault(r, "throttle", http.StatusTooManyRequests)
		writeError(w, errorf(http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
			"Quota exceeded for quota metric 'Management API requests' and limit 'Management API requests per minute per project' (emulator --throttle %v)", h.opts.Throttle), 1)
		return
	}
	if h.limit != nil {
		if ok, wait := h.limit.take(); !ok {
			h.logFault(r, "rate limit", http.StatusTooManyRequests)
			writeError(w, errorf(http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
				"Quota exceeded: the emulator serves %d requests per minute", h.opts.RateLimit), int(math.Ceil(wait.Seconds())))
			return
		}
	}
	if code, fail := h.faults.next(); fail {
		h.logFault(r, "injected fault", code)
		if code == http.StatusTooManyRequests {
			writeError(w, errorf(code, "RESOURCE_EXHAUSTED", "injected fault: too many requests, retry"), 0)
		} else {
			writeError(w, errorf(code, "UNAVAILABLE", "injected fault: the service is currently unavailable, retry"), h.faultRetryAfter())
		}
		return
	}
	h.mux.ServeHTTP(w, r)
}

// faultRetryAfter is the Retry-After of an injected 503 in seconds, -1 for
// none (see Options.FaultRetryAfter).
func (h *handler) faultRetryAfter() int {
	switch d := h.opts.FaultRetryAfter; {
	case d < 0:
		return -1
	case d == 0:
		return 1
	default:
		return int(math.Ceil(d.Seconds()))
	}
}

func (h *handler) logFault(r *http.Request, why string, code int) {
	if h.opts.Logger != nil {
		h.opts.Logger.LogAttrs(r.Context(), slog.LevelDebug, "apigee emulator "+why,
			slog.String("uri", r.URL.RequestURI()), slog.Int("status", code))
	}
}

// statusRecorder remembers the status and size of a response for the log.
type statusRecorder struct {
	http.ResponseWriter
	code int
	n    int64
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	n, err := s.ResponseWriter.Write(p)
	s.n += int64(n)
	return n, err
}

// organization answers GET /v1/organizations/{org} with the few fields a
// client checks before listing.
func (h *handler) organization(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	if err := checkParams(r, nil); err != nil {
		return err
	}
	if err := h.pause(r.Context()); err != nil {
		return err
	}
	created := strconv.FormatInt(o.createdAt, 10)
	writeJSON(w, http.StatusOK, map[string]any{
		"name":             o.name,
		"displayName":      o.name,
		"projectId":        o.name,
		"createdAt":        created,
		"lastModifiedAt":   created,
		"runtimeType":      "CLOUD",
		"subscriptionType": "PAID",
		"billingType":      "PAYG",
		"state":            "ACTIVE",
		"caCertificate":    "",
		"environments":     []string{"prod", "test"},
		"properties":       map[string]any{"property": []any{map[string]string{"name": "features.hybrid.enabled", "value": "false"}}},
	})
	return nil
}

// pause waits out the configured latency, or until the client gives up.
func (h *handler) pause(ctx context.Context) error {
	if h.opts.Latency <= 0 {
		return nil
	}
	t := time.NewTimer(h.opts.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("client went away: %w", ctx.Err())
	}
}
