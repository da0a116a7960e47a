package apigee_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
)

// The apps pages of a pass whose tokens are plainly indices are asked for
// ahead by index (see indexahead.go). These tests put a front before the
// emulator that keeps a log of the first pass's requests: which tokens it
// had answered (minted) when each request came, how many were in flight at
// once, and, on demand, refuses a token it has not minted, serves one page
// short, hides one token, or changes the organization between two pages.

// indexPageSize is the client's page size in these tests.
const indexPageSize = 20

// indexAPI is the front.
type indexAPI struct {
	srv *httptest.Server
	h   http.Handler

	// Set before the first request:
	refuse bool              // answer 400 to a token not minted yet
	slow   time.Duration     // wait this long before serving a minted token
	short  map[string]int    // the page at this token is cut to this size
	hide   map[string]string // this nextPageToken is sent as that string
	// after runs once the n-th request by a made-up token is served,
	// before its answer leaves.
	after func(n int)

	mu       sync.Mutex
	minted   map[string]bool
	madeUp   []string // tokens asked for before the server minted them
	refused  int
	inFlight int
	most     int // the most first-pass requests in flight at once
}

func newIndexAPI(t *testing.T, data *emulator.Data, o emulator.Options) *indexAPI {
	f := &indexAPI{h: emulator.NewHandler(data, o), minted: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *indexAPI) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	first := q.Get("status") == "approved" && q.Get("keyStatus") == "approved" && q.Get("startKey") == "" && q.Get("rows") == ""
	if !first {
		f.h.ServeHTTP(w, r)
		return
	}
	tok := q.Get("pageToken")
	f.mu.Lock()
	made := tok != "" && !f.minted[tok]
	n := 0
	if made {
		f.madeUp = append(f.madeUp, tok)
		n = len(f.madeUp)
	}
	f.inFlight++
	f.most = max(f.most, f.inFlight)
	f.mu.Unlock()
	done := func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}
	if made && f.refuse {
		f.mu.Lock()
		f.refused++
		f.mu.Unlock()
		done()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"code":400,"message":"invalid page token %q","status":"INVALID_ARGUMENT"}}`, tok)
		return
	}
	if tok != "" && !made && f.slow > 0 {
		time.Sleep(f.slow)
	}
	for real, shown := range f.hide {
		if tok == shown {
			q.Set("pageToken", real)
		}
	}
	if size, ok := f.short[tok]; ok {
		q.Set("pageSize", strconv.Itoa(size))
	}
	r.URL.RawQuery = q.Encode()
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	var page struct {
		NextPageToken string `json:"nextPageToken"`
	}
	json.Unmarshal(body, &page)
	next := page.NextPageToken
	if shown, ok := f.hide[next]; ok && next != "" {
		body = bytes.Replace(body, []byte(strconv.Quote(next)), []byte(strconv.Quote(shown)), 1)
		next = shown
	}
	if made && f.after != nil {
		f.after(n)
	}
	f.mu.Lock()
	if next != "" {
		f.minted[next] = true
	}
	f.mu.Unlock()
	// Out of flight before the answer leaves: a client that asks for one
	// page after another never has two in flight.
	done()
	w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
	w.WriteHeader(rec.Code)
	w.Write(body)
}

// indexListing lists every app of the front's organization with a cap of
// parallel requests in flight (and, above 1, the later passes read at once
// into a spill, as an export does) and returns the records, the warnings
// and a digest of every page as the caller sees it: page numbers, cursors,
// counts, warnings and each record's bytes.
func indexListing(t *testing.T, f *indexAPI, parallel int) ([]proto.Message, []apigee.Warning, string) {
	t.Helper()
	c, err := apigee.NewClient(context.Background(), apigee.WithBaseURL(f.srv.URL), apigee.WithoutAuthentication(), apigee.WithPageSize(indexPageSize))
	if err != nil {
		t.Fatal(err)
	}
	l := c.List("acme", apigee.Apps, apigee.Cursor{})
	var spill apigee.Spill
	if parallel > 1 {
		spill = dirSpill{t.TempDir()}
	}
	l.ReadAhead(parallel, spill, nil)
	defer l.Close()
	var (
		got []proto.Message
		ws  []apigee.Warning
	)
	h := sha256.New()
	for {
		p, err := l.Next(context.Background())
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after %d records: %v", len(got), err)
			}
			return got, ws, fmt.Sprintf("%x", h.Sum(nil))
		}
		next, _ := json.Marshal(p.Next)
		fmt.Fprintf(h, "page %d next %s dup %d overlaps %d unknown %d total %d warnings %v\n", p.Number, next, p.Duplicates, p.Overlaps, p.Unknown, p.TotalSize, p.Warnings)
		for _, m := range p.Records {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			h.Write(b)
		}
		got = append(got, p.Records...)
		ws = apigee.MergeWarnings(ws, p.Warnings)
	}
}

// TestAppsIndexAhead: with plain index tokens (the emulator's default)
// and the default cap of 4 requests in flight, the first pass has several
// pages in flight at once, asked for by index before the server named
// their tokens, and the listing's pages are byte for byte those of a
// listing one request at a time, which makes no request by a made-up
// index and never has two in flight. With opaque tokens (the same
// indices, base64 encoded) no request is ever made by a made-up index.
func TestAppsIndexAhead(t *testing.T) {
	t.Parallel()
	data, _ := shiftData(51, 240)
	for _, mode := range []emulator.AppsPaging{emulator.AppsIndexTokens, emulator.AppsEncodedIndexTokens} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			opts := emulator.Options{AppsPaging: mode, Latency: 50 * time.Millisecond}
			serial := newIndexAPI(t, data, opts)
			gotSerial, _, digestSerial := indexListing(t, serial, 1)
			checkSameRecords(t, apigee.Apps, gotSerial, allApps(data))
			if len(serial.madeUp) != 0 || serial.most != 1 {
				t.Fatalf("one request at a time: %d requests by a made-up token, %d in flight at most", len(serial.madeUp), serial.most)
			}

			ahead := newIndexAPI(t, data, opts)
			got, ws, digest := indexListing(t, ahead, apigee.DefaultParallelRequests)
			checkSameRecords(t, apigee.Apps, got, allApps(data))
			if digest != digestSerial || len(ws) != 0 {
				t.Errorf("pages differ from those of a listing one request at a time (warnings %v)", ws)
			}
			switch {
			case mode == emulator.AppsIndexTokens && (len(ahead.madeUp) == 0 || ahead.most < 2):
				t.Errorf("plain index tokens: %d requests by index, %d in flight at most; want pages asked for ahead", len(ahead.madeUp), ahead.most)
			case mode != emulator.AppsIndexTokens && len(ahead.madeUp) != 0:
				t.Errorf("opaque tokens: requests by made-up tokens %v", ahead.madeUp)
			}
		})
	}
}

// TestAppsIndexAheadShift: apps deleted or revoked before the cursor while
// pages asked for by index are in flight, served out of order (the pages
// by made-up index at once, those by a token the server named later), so
// that a page after the change comes before pages served before it: every
// app is still exported exactly once, and the listing says it went on by
// appId.
func TestAppsIndexAheadShift(t *testing.T) {
	t.Parallel()
	data, ids := shiftData(52, 240)
	for _, tc := range []struct {
		name   string
		at     int // after the at-th request by a made-up token is served
		change func(emu *emulator.Server, id string) error
	}{
		{"deleted", 1, func(emu *emulator.Server, id string) error { return emu.DeleteApp("acme", id) }},
		{"revoked", 2, func(emu *emulator.Server, id string) error { return emu.SetAppStatus("acme", id, "revoked") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The front needs a Server to change: the emulator serves
			// over loopback, and the front passes requests on to it.
			emu, err := emulator.Start(data, emulator.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(emu.Close)
			f := newIndexAPI(t, nil, emulator.Options{})
			f.h = proxyTo(emu.URL)
			f.slow = 30 * time.Millisecond
			var (
				once    sync.Once
				changed atomic.Bool
			)
			f.after = func(n int) {
				if n >= tc.at {
					once.Do(func() {
						if err := tc.change(emu, ids[5].id); err != nil {
							t.Error(err)
						}
						changed.Store(true)
					})
				}
			}
			got, ws, _ := indexListing(t, f, apigee.DefaultParallelRequests)
			if !changed.Load() {
				t.Fatalf("nothing changed (%d requests by index): the test did not test", len(f.madeUp))
			}
			checkSameRecords(t, apigee.Apps, got, allApps(data))
			if !hasWarningText(ws, "totalSize fell") {
				t.Errorf("warnings %v do not say the listing went on by appId", ws)
			}
		})
	}
}

// proxyTo passes a request on to the server at base and copies its answer.
func proxyTo(base string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(base + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		w.Write(b.Bytes())
	})
}

// TestAppsIndexAheadMisses: a server that refuses an index it has not
// named yet (400), that serves a page short (so the next token is not the
// one guessed), or whose token stops looking like an index on one page:
// the listing drops the requests by index it made, goes on as a listing
// one request at a time would (the same pages, no warning), and, once a
// token was not plainly an index, makes no request by index for the rest
// of the pass.
func TestAppsIndexAheadMisses(t *testing.T) {
	t.Parallel()
	data, _ := shiftData(53, 240)
	for _, tc := range []struct {
		name string
		edit func(f *indexAPI)
		// check says what the front must have seen for the test to test.
		check func(t *testing.T, f *indexAPI)
	}{
		{"400 for a made-up index", func(f *indexAPI) { f.refuse = true }, func(t *testing.T, f *indexAPI) {
			if f.refused == 0 {
				t.Fatal("no request by index was refused: the test did not test")
			}
		}},
		{"a short page", func(f *indexAPI) { f.short = map[string]int{"60": 13} }, func(t *testing.T, f *indexAPI) {
			if !f.minted["73"] || len(f.madeUp) == 0 {
				t.Fatalf("tokens asked for by index %v, token 73 named %v: the test did not test", f.madeUp, f.minted["73"])
			}
		}},
		{"a token not an index", func(f *indexAPI) { f.hide = map[string]string{"80": "p80"} }, func(t *testing.T, f *indexAPI) {
			// The page at 60 names "p80": the pass then guesses no more
			// than it had after the page at 40, up to 60 + (W-1) pages.
			last := 60 + (apigee.DefaultParallelRequests-1)*indexPageSize
			if len(f.madeUp) == 0 {
				t.Fatal("no request by index: the test did not test")
			}
			for _, tok := range f.madeUp {
				if n, err := strconv.Atoi(tok); err != nil || n > last {
					t.Fatalf("after a token not an index, %s was asked for by index", tok)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A little latency, so that pages asked for by index reach
			// the server before it names their tokens.
			opts := emulator.Options{Latency: 20 * time.Millisecond}
			serial := newIndexAPI(t, data, opts)
			tc.edit(serial)
			_, _, want := indexListing(t, serial, 1)
			f := newIndexAPI(t, data, opts)
			tc.edit(f)
			got, ws, digest := indexListing(t, f, apigee.DefaultParallelRequests)
			checkSameRecords(t, apigee.Apps, got, allApps(data))
			if digest != want || len(ws) != 0 {
				t.Errorf("pages differ from those of a listing one request at a time (warnings %v)", ws)
			}
			tc.check(t, f)
		})
	}
}
