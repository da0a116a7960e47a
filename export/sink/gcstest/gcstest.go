// Package gcstest runs a Cloud Storage emulator (fake-gcs-server, in
// process) on a loopback port for tests, with the real storage client
// pointed at it over HTTP and a place to inject faults.
//
// Typical use:
//
//	srv := gcstest.Start(t, "my-bucket")
//	b, err := sink.Open(ctx, "gs://my-bucket/exports", sink.WithClientOptions(srv.ClientOptions()...))
//	faults := gcstest.FailEvery(3, http.StatusServiceUnavailable)
//	srv.Use(faults.Middleware) // every third request now fails before the emulator sees it
//
// Faults are injected by middleware in front of the emulator's handler on
// the same listener rather than by a separate reverse proxy: the emulator
// builds resumable-upload URLs from the request's Host, which a proxy on
// another port would have to rewrite.
//
// Use it, not fakestorage.Server.Client(): that client's in-memory transport
// ignores contexts, so a cancelled upload would still be committed.
//
// What the emulator does not do (see the project's dependency notes): it
// ignores preconditions on delete, copy and compose destinations, does not
// serve testIamPermissions (404; see AnswerTestPermissions), does not verify
// checksums of multi-chunk uploads, and answers a compose with a missing
// source with 500.
package gcstest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
)

// Middleware wraps the emulator's handler: it may answer a request itself
// (the emulator never sees it) or pass it on to next.
type Middleware func(next http.Handler) http.Handler

// Server is a running emulator.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string
	// Host is 127.0.0.1:PORT, the value STORAGE_EMULATOR_HOST takes.
	Host string
	// Fake is the emulator, for inspecting or seeding its state directly
	// (Fake.Backend(), Fake.CreateObject, Fake.CreateBucketWithOpts).
	Fake *fakestorage.Server
	// Client is a real storage client talking HTTP to the server,
	// through any middleware. It is closed when the test ends.
	Client *storage.Client

	handler http.Handler
	mu      sync.RWMutex
	chain   []Middleware
}

// Start runs an emulator holding the given (empty) buckets until the test
// ends.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	// Listen first: the emulator must know its public host:port to serve
	// the client's downloads, which go to /BUCKET/OBJECT on that host.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gcstest: listening: %v", err)
	}
	host := l.Addr().String()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		PublicHost: host,
		NoListener: true,
	})
	if err != nil {
		l.Close()
		t.Fatalf("gcstest: starting fake-gcs-server: %v", err)
	}
	s := &Server{URL: "http://" + host, Host: host, Fake: fake, handler: fake.HTTPHandler()}
	ts := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(s.serve)}}
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		fake.Stop()
	})
	for _, b := range buckets {
		fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	s.Client = s.NewClient(t)
	return s
}

// ClientOptions point a storage client at the server without credentials.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.URL + "/storage/v1/"),
		option.WithoutAuthentication(),
	}
}

// NewClient returns another client for the server, closed when the test ends.
func (s *Server) NewClient(t testing.TB, opts ...option.ClientOption) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background(), append(s.ClientOptions(), opts...)...)
	if err != nil {
		t.Fatalf("gcstest: creating a storage client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Use replaces the middleware in front of the emulator; the first wraps
// outermost and sees requests first. Use() removes all of it. Safe while
// requests are in flight.
func (s *Server) Use(m ...Middleware) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain = append([]Middleware(nil), m...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	h := s.handler
	for i := len(s.chain) - 1; i >= 0; i-- {
		h = s.chain[i](h)
	}
	s.mu.RUnlock()
	h.ServeHTTP(w, r)
}

// WriteError answers like Cloud Storage's JSON API, which the client turns
// into a *googleapi.Error with this code.
func WriteError(w http.ResponseWriter, code int, message string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	reason := map[int]string{401: "required", 403: "forbidden", 404: "notFound", 429: "rateLimitExceeded", 503: "backendError"}[code]
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": message,
		"errors": []map[string]string{{"message": message, "reason": reason, "domain": "global"}},
	}})
}

// Faults fails a share of the requests before the emulator sees them, as
// if a proxy or the network failed: the emulator's state is untouched, so
// a client retry is exactly what real Cloud Storage would see.
type Faults struct {
	every, code int
	match       func(*http.Request) bool
	seen        atomic.Int64
	injected    atomic.Int64
}

// FailEvery fails every n-th request (the n-th, 2n-th, ...) with HTTP code.
func FailEvery(n, code int) *Faults {
	return &Faults{every: n, code: code, match: func(*http.Request) bool { return true }}
}

// Deny answers every request that match accepts with HTTP code (e.g. 403
// for ObjectInserts, 401 for all).
func Deny(code int, match func(*http.Request) bool) *Faults {
	return &Faults{every: 1, code: code, match: match}
}

// Middleware installs the faults with Server.Use.
func (f *Faults) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.match(r) && f.seen.Add(1)%int64(f.every) == 0 {
			f.injected.Add(1)
			// Read the body first. Answering early lets the client's
			// transport still be sending it when the client retries, and
			// the storage client refills that very chunk buffer for the
			// next chunk: a data race inside the library (harmless, the
			// bytes belong to a failed request, but -race reports it).
			io.Copy(io.Discard, r.Body)
			WriteError(w, f.code, fmt.Sprintf("gcstest: injected %d for %s %s", f.code, r.Method, r.URL.Path))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Injected is how many requests were failed so far.
func (f *Faults) Injected() int64 { return f.injected.Load() }

// Matchers for Deny and Record.

// All matches every request.
func All(*http.Request) bool { return true }

// ObjectInserts matches uploads: single-request, resumable session starts
// and resumable chunks.
func ObjectInserts(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/upload/") && (r.Method == http.MethodPost || r.Method == http.MethodPut)
}

// TestPermissionsRequests matches bucket testIamPermissions calls.
func TestPermissionsRequests(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/storage/v1/b/") && strings.HasSuffix(r.URL.Path, "/iam/testPermissions")
}

// ObjectDeletes matches object deletions.
func ObjectDeletes(r *http.Request) bool {
	return r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/o/")
}

// AnswerTestPermissions serves testIamPermissions, which the emulator does
// not: for an existing bucket it grants those of the requested permissions
// that are in granted; for a missing bucket it answers 404 like Cloud
// Storage.
func (s *Server) AnswerTestPermissions(granted ...string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !TestPermissionsRequests(r) {
				next.ServeHTTP(w, r)
				return
			}
			bucket := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/storage/v1/b/"), "/iam/testPermissions")
			if _, err := s.Fake.Backend().GetBucket(bucket); err != nil {
				WriteError(w, http.StatusNotFound, "The specified bucket does not exist.")
				return
			}
			perms := []string{}
			for _, p := range r.URL.Query()["permissions"] {
				for _, g := range granted {
					if p == g {
						perms = append(perms, p)
					}
				}
			}
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
			json.NewEncoder(w).Encode(map[string]any{"kind": "storage#testIamPermissionsResponse", "permissions": perms})
		})
	}
}

// Recorder remembers the requests that passed through it.
type Recorder struct {
	mu   sync.Mutex
	reqs []string
}

// Middleware installs the recorder with Server.Use.
func (rec *Recorder) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r.Method+" "+r.URL.Path)
		rec.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// Requests returns "METHOD /path" of each request seen, in order.
func (rec *Recorder) Requests() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.reqs...)
}

// Objects returns the names of the objects in a bucket, straight from the
// emulator's state.
func (s *Server) Objects(t testing.TB, bucket string) []string {
	t.Helper()
	objs, err := s.Fake.Backend().ListObjects(bucket, "", false)
	if err != nil {
		t.Fatalf("gcstest: listing %s: %v", bucket, err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	return names
}
