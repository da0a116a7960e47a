package gcstest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// LateCreate holds one create request (an upload, a compose, a copy) and
// carries it out late, as Cloud Storage may: a request whose client hung up
// can still take effect, at any moment after. A held request whose client
// hangs up is carried out once the next object listing has been answered,
// the worst moment for a client that gave up on it and then lists its
// objects to clean up; one whose client keeps waiting is carried out when
// Release is called. Either way the emulator sees the whole request.
type LateCreate struct {
	match   func(*http.Request) bool
	held    chan struct{}
	release chan struct{}
	listed  chan struct{}
	done    chan struct{}

	mu          sync.Mutex
	taken       bool // the request to hold has come
	hungUp      bool
	listedOnce  sync.Once
	releaseOnce sync.Once
}

// lateLiveness bounds how long a held request whose client hung up waits
// for a listing, so that a test that never lists still ends.
const lateLiveness = 30 * time.Second

// HoldCreate holds the first request that match accepts (see CreateOf).
func HoldCreate(match func(*http.Request) bool) *LateCreate {
	return &LateCreate{match: match, held: make(chan struct{}), release: make(chan struct{}),
		listed: make(chan struct{}), done: make(chan struct{})}
}

// CreateOf matches the requests that create object name (its full name in
// the bucket): a single-request upload, the last chunk of a resumable one
// (the emulator's session URLs carry the name), a compose into it, a copy
// or rewrite to it.
func CreateOf(name string) func(*http.Request) bool {
	esc := url.PathEscape(name)
	return func(r *http.Request) bool {
		p := r.URL.EscapedPath()
		switch {
		case strings.HasPrefix(r.URL.Path, "/upload/"):
			q := r.URL.Query()
			return q.Get("name") == name && (q.Get("uploadType") != "resumable" || finalChunk(r))
		case r.Method != http.MethodPost:
			return false
		case strings.HasSuffix(p, "/o/"+esc+"/compose"):
			return true
		}
		return (strings.Contains(p, "/copyTo/") || strings.Contains(p, "/rewriteTo/")) && strings.HasSuffix(p, "/o/"+esc)
	}
}

// finalChunk reports whether r is the chunk of a resumable upload that
// commits the object: its Content-Range gives the total size.
func finalChunk(r *http.Request) bool {
	cr := r.Header.Get("Content-Range")
	return cr != "" && !strings.HasSuffix(cr, "/*")
}

// Held is closed once the request is held.
func (l *LateCreate) Held() <-chan struct{} { return l.held }

// Done is closed once the held request has been carried out.
func (l *LateCreate) Done() <-chan struct{} { return l.done }

// Release carries out the held request if its client still waits.
func (l *LateCreate) Release() { l.releaseOnce.Do(func() { close(l.release) }) }

// HungUp reports whether the held request's client gave up on it.
func (l *LateCreate) HungUp() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hungUp
}

// Middleware installs the hold with Server.Use.
func (l *LateCreate) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isObjectList(r) {
			// Only a listing that starts once the request is held counts.
			l.mu.Lock()
			after := l.taken
			l.mu.Unlock()
			next.ServeHTTP(w, r)
			if after {
				l.listedOnce.Do(func() { close(l.listed) })
			}
			return
		}
		l.mu.Lock()
		hold := !l.taken && l.match(r)
		if hold {
			l.taken = true
		}
		l.mu.Unlock()
		if !hold {
			next.ServeHTTP(w, r)
			return
		}
		defer close(l.done)
		// The whole request first: the server notices a client hanging up
		// only once it has read the body, and the emulator must get all of
		// it even then.
		body, _ := io.ReadAll(r.Body)
		close(l.held)
		select {
		case <-r.Context().Done():
			l.mu.Lock()
			l.hungUp = true
			l.mu.Unlock()
			select {
			case <-l.listed:
			case <-time.After(lateLiveness):
			}
		case <-l.release:
		}
		r = r.WithContext(context.WithoutCancel(r.Context()))
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// isObjectList matches an object listing of a bucket.
func isObjectList(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/storage/v1/b/") && strings.HasSuffix(r.URL.Path, "/o")
}
