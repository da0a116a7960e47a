package apigee

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// listing is everything a listing shows: its pages, its error and the
// requests the server saw, for comparing a listing that asks for pages
// ahead with one that does not.
type listing struct {
	pages    []string
	err      string
	requests []string // as the server saw them
	started  int      // requests the Lister started, including any it dropped
}

// observe lists from l to the end or the first error. It checks that the
// listing left no request ahead behind and never asked ahead for a page it
// did not go to.
func observe(t *testing.T, f *fakeAPI, l *Lister) listing {
	t.Helper()
	var out listing
	for {
		p, err := l.Next(context.Background())
		if err != nil {
			if !errors.Is(err, io.EOF) {
				out.err = fmt.Sprintf("%v: %s", status.Code(err), strings.ReplaceAll(err.Error(), f.srv.URL, "URL"))
			}
			break
		}
		var b strings.Builder
		fmt.Fprintf(&b, "page %d next %+v dup %d unknown %d total %d:", p.Number, p.Next, p.Duplicates, p.Unknown, p.TotalSize)
		for _, m := range p.Records {
			raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			h := fnv.New64a()
			h.Write(raw)
			fmt.Fprintf(&b, " %q/%x", l.r.Key(m), h.Sum64())
		}
		out.pages = append(out.pages, b.String())
	}
	for _, r := range f.log() {
		out.requests = append(out.requests, r.URL.RequestURI())
	}
	out.started = l.started
	if len(l.ahead) != 0 {
		t.Errorf("a request ahead is left after the listing ended")
	}
	if l.mispredicted != 0 {
		t.Errorf("%d requests ahead for pages the listing did not go to", l.mispredicted)
	}
	return out
}

// sameAsSerial runs a scenario twice, on fresh servers: once asking for
// pages ahead and once strictly one request after another. Both must
// return the same pages and error and make the same requests in the same
// order: asking ahead changes when requests are made, never which.
func sameAsSerial(t *testing.T, mk func(t *testing.T) (*fakeAPI, *Lister)) listing {
	t.Helper()
	f, l := mk(t)
	l.noAhead = true
	serial := observe(t, f, l)
	f, l = mk(t)
	got := observe(t, f, l)
	if got.err != serial.err {
		t.Errorf("error\n  ahead:  %s\n  serial: %s", got.err, serial.err)
	}
	if strings.Join(got.pages, "\n") != strings.Join(serial.pages, "\n") {
		t.Errorf("pages differ\nahead:\n  %s\nserial:\n  %s", strings.Join(got.pages, "\n  "), strings.Join(serial.pages, "\n  "))
	}
	if got.started != serial.started {
		t.Errorf("%d requests started, %d when listing serially", got.started, serial.started)
	}
	if strings.Join(got.requests, "\n") != strings.Join(serial.requests, "\n") {
		t.Errorf("requests differ\nahead:\n  %s\nserial:\n  %s", strings.Join(got.requests, "\n  "), strings.Join(serial.requests, "\n  "))
	}
	return got
}

// variantJSON writes a list response in one of the many JSON forms the
// decoder accepts (escapes, proto names, nulls, unknown fields; see
// variantWriter), the same form for the same response.
func variantJSON(m proto.Message) []byte {
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	h := fnv.New64a()
	h.Write(raw)
	w := &variantWriter{r: rand.New(rand.NewPCG(h.Sum64(), 5))}
	w.message(m.ProtoReflect())
	return w.b.Bytes()
}

// TestListAheadSameRequests: on every paging situation the listing tests
// know (list sizes around the page size, resumes, JSON in every form,
// records without keys, repeats, servers that repeat themselves or fail), a
// listing that asks ahead makes exactly the requests of one that does not,
// and returns the same pages and errors. In particular it asks for nothing
// past the last page.
func TestListAheadSameRequests(t *testing.T) {
	ctx := context.Background()
	type scenario struct {
		name string
		r    Resource
		mk   func(t *testing.T) (*fakeAPI, *Lister)
		// requests, when not 0, is how many requests the listing takes.
		requests int
	}
	var cases []scenario
	simple := func(r Resource, recs []proto.Message, opts []Option, edit func(*fakeAPI)) func(t *testing.T) (*fakeAPI, *Lister) {
		return func(t *testing.T) (*fakeAPI, *Lister) {
			f := newFakeAPI(t, map[Resource][]proto.Message{r: recs})
			if edit != nil {
				edit(f)
			}
			return f, f.client(t, opts...).List("acme", r, Cursor{})
		}
	}
	for _, r := range Resources() {
		for _, n := range []int{0, 1, 999, 1000, 1001, 2001} {
			// Key paging: one request per 999 records past the first
			// page, plus one when the last page is full (API products:
			// plus one after a short page). Apps: the
			// probes of the three other passes, then each status pass (a
			// third of the apps are revoked) in pages of 1000, at least
			// one page each, and one empty page for each keyStatus=revoked
			// pass (genRecords revokes no key).
			want := 1 + max(0, n-1)/999
			if r == APIProducts && n > 0 && (n < 1000 || (n-1)%999 != 0) {
				// A short page of products that adds records is
				// followed once: Spaces may have cut it.
				want++
			}
			if r == Apps {
				revoked := n / 3 // genRecords revokes every third app
				want = 3 + max(1, (n-revoked+999)/1000) + max(1, (revoked+999)/1000) + 2
			}
			cases = append(cases, scenario{name: fmt.Sprintf("%s/%d", r, n), r: r, requests: want,
				mk: simple(r, genRecords(r, n, uint64(n)), nil, nil)})
		}
		recs := genRecords(r, 53, 9)
		cases = append(cases,
			scenario{name: string(r) + "/pages-of-7", r: r, mk: simple(r, recs, []Option{WithPageSize(7)}, nil)},
			scenario{name: string(r) + "/variant-json", r: r, mk: simple(r, recs, []Option{WithPageSize(6)}, func(f *fakeAPI) { f.marshal = variantJSON })},
			scenario{name: string(r) + "/page-2-unavailable", r: r, mk: simple(r, recs, []Option{WithPageSize(7)}, func(f *fakeAPI) {
				f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
					if req.URL.Query().Get("startKey") != "" || req.URL.Query().Get("pageToken") != "" {
						googleErr(w, 503, "UNAVAILABLE", "backend down")
						return true
					}
					return false
				}
			})},
			scenario{name: string(r) + "/page-3-malformed", r: r, mk: simple(r, recs, []Option{WithPageSize(7)}, func(f *fakeAPI) {
				f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
					if n == 3 {
						io.WriteString(w, `{"developer":[{"email":"x@y.com"}],"apiProduct":[{"name":"p"}],"app":[{"appId":"a"}],"nextPageToken":"t"`)
						return true
					}
					return false
				}
			})},
		)
		// Resume from the cursor of every page of a serial listing.
		f := newFakeAPI(t, map[Resource][]proto.Message{r: recs})
		l := f.client(t, WithPageSize(7)).List("acme", r, Cursor{})
		l.noAhead = true
		for {
			p, err := l.Next(ctx)
			if err != nil {
				break
			}
			cases = append(cases, scenario{name: fmt.Sprintf("%s/resume-after-%d", r, p.Number), r: r, mk: func(t *testing.T) (*fakeAPI, *Lister) {
				f := newFakeAPI(t, map[Resource][]proto.Message{r: recs})
				return f, f.client(t, WithPageSize(7)).List("acme", r, p.Next)
			}})
		}
	}
	for _, r := range []Resource{Developers, APIProducts} {
		recs := genRecords(r, 25, 3)
		keyless := func(i int) []proto.Message {
			out := make([]proto.Message, len(recs))
			for j, m := range recs {
				out[j] = proto.Clone(m)
			}
			switch m := out[i].(type) {
			case *apigeepb.Developer:
				m.Email = nil
			case *apigeepb.ApiProduct:
				m.Name = nil
			}
			return out
		}
		served := append(append(append([]proto.Message{}, recs[:8]...), recs[2]), recs[8:]...)
		cases = append(cases,
			// A record without a key inside a page is kept; at the end of
			// a full page it stops the listing (DATA_LOSS).
			scenario{name: string(r) + "/keyless-inside", r: r, mk: simple(r, keyless(3), []Option{WithPageSize(5)}, nil)},
			scenario{name: string(r) + "/keyless-last", r: r, mk: simple(r, keyless(4), []Option{WithPageSize(5)}, nil)},
			scenario{name: string(r) + "/repeat", r: r, mk: simple(r, served, []Option{WithPageSize(6)}, nil)},
			scenario{name: string(r) + "/exclusive-startKey", r: r, mk: simple(r, recs, []Option{WithPageSize(5)}, func(f *fakeAPI) { f.exclusiveStartKey = true })},
			scenario{name: string(r) + "/startKey-deleted", r: r, mk: simple(r, recs, []Option{WithPageSize(5)}, func(f *fakeAPI) {
				f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
					if k := req.URL.Query().Get("startKey"); n == 3 {
						f.remove(r, k)
					}
					return false
				}
			})},
			scenario{name: string(r) + "/nothing-new", r: r, mk: simple(r, recs[:8], []Option{WithPageSize(4)}, func(f *fakeAPI) {
				f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
					if req.URL.Query().Get("startKey") == "" {
						return false
					}
					writeProto(w, wrap(r, append([]proto.Message{recs[3]}, recs[:3]...)))
					return true
				}
			})},
			// A full page that ends with its startKey fails the listing,
			// even when it brings new records.
			scenario{name: string(r) + "/ends-with-startKey", r: r, mk: simple(r, recs, []Option{WithPageSize(5)}, func(f *fakeAPI) {
				f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
					if n != 2 {
						return false
					}
					writeProto(w, wrap(r, []proto.Message{recs[4], recs[5], recs[6], recs[7], recs[4]}))
					return true
				}
			})},
			scenario{name: string(r) + "/not-advancing", r: r, mk: simple(r, recs, []Option{WithPageSize(5)}, func(f *fakeAPI) {
				f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
					if n != 2 {
						return false
					}
					k := req.URL.Query().Get("startKey")
					var page []proto.Message
					for _, m := range recs {
						if r.Key(m) == k {
							page = []proto.Message{m, m, m, m, m}
						}
					}
					writeProto(w, wrap(r, page))
					return true
				}
			})},
		)
	}
	apps := genRecords(Apps, 20, 8)
	var approved, revoked []proto.Message
	for _, m := range apps {
		if m.(*apigeepb.App).GetStatus() == statusRevoked {
			revoked = append(revoked, m)
		} else {
			approved = append(approved, m)
		}
	}
	cases = append(cases,
		scenario{name: "apps/approved-only", r: Apps, mk: simple(Apps, approved, []Option{WithPageSize(4)}, nil)},
		scenario{name: "apps/revoked-only", r: Apps, mk: simple(Apps, revoked, []Option{WithPageSize(4)}, nil)},
		scenario{name: "apps/resume-revoked-pass", r: Apps, mk: func(t *testing.T) (*fakeAPI, *Lister) {
			f := newFakeAPI(t, map[Resource][]proto.Message{Apps: apps})
			return f, f.client(t, WithPageSize(3)).List("acme", Apps, Cursor{Status: statusRevoked})
		}},
		scenario{name: "apps/token-repeated", r: Apps, mk: simple(Apps, nil, nil, func(f *fakeAPI) {
			f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
				resp := wrap(Apps, genRecords(Apps, 1, uint64(n))).(*apigeepb.ListAppsResponse)
				resp.GetApp()[0].Status = proto.String("approved")
				resp.NextPageToken = proto.String(fmt.Sprint("t", min(n, 4)))
				writeProto(w, resp)
				return true
			}
		})},
		scenario{name: "apps/token-twice-in-page", r: Apps, mk: simple(Apps, apps, []Option{WithPageSize(4)}, func(f *fakeAPI) {
			f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
				if n != 3 {
					return false
				}
				io.WriteString(w, `{"app":[{"appId":"x","status":"approved"}],"nextPageToken":"a","next_page_token":"b"}`)
				return true
			}
		})},
	)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sameAsSerial(t, c.mk)
			if c.requests != 0 && len(got.requests) != c.requests {
				t.Errorf("%d requests, want %d:\n  %s", len(got.requests), c.requests, strings.Join(got.requests, "\n  "))
			}
		})
	}
}

// gatedAPI is a fake API that holds every list request after the first
// page's until the test lets it through, telling the test which page it
// holds: the test can see that a request was made before it called Next
// for its page.
type gatedAPI struct {
	*fakeAPI
	arrived chan string   // the held request's URI
	proceed chan struct{} // lets the held request through
}

func newGatedAPI(t *testing.T, r Resource, recs []proto.Message) *gatedAPI {
	g := &gatedAPI{fakeAPI: newFakeAPI(t, map[Resource][]proto.Message{r: recs}), arrived: make(chan string), proceed: make(chan struct{})}
	first := 1 // the first page's request is not held
	if r == Apps {
		first = 4 // nor the probes of the other three passes
	}
	g.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
		if n <= first {
			return false
		}
		select {
		case g.arrived <- req.URL.RequestURI():
		case <-req.Context().Done():
			return true
		}
		select {
		case <-g.proceed:
			return false
		case <-req.Context().Done():
			return true
		}
	}
	return g
}

// serveAll stops holding requests.
func (g *gatedAPI) serveAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.intercept = nil
}

// TestListAsksAhead: after Next returns a page, the server has received
// (or will receive, with no further Next call) the request for the page
// after it, while that request is still held: the round trip of the next
// page overlaps the caller's work on this one. Across the apps passes too.
func TestListAsksAhead(t *testing.T) {
	for _, r := range Resources() {
		t.Run(string(r), func(t *testing.T) {
			// 23 records in pages of 4: no page brings nothing new, so
			// every Next call takes exactly one held request.
			recs := genRecords(r, 23, 6)
			if r == Apps {
				// Keys of every other app revoked: no apps pass is empty.
				for i, m := range recs {
					for _, c := range m.(*apigeepb.App).GetCredentials() {
						if i%2 == 0 {
							c.Status = proto.String(statusRevoked)
						}
					}
				}
			}
			g := newGatedAPI(t, r, recs)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := g.client(t, WithPageSize(4)).List("acme", r, Cursor{})
			var pages []*Page
			passes := map[int]bool{0: true}
			for {
				p, err := l.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, p)
				if p.Next.Done {
					continue
				}
				// Next has returned; the request for p.Next is held by the
				// server (or on its way there).
				if len(l.ahead) == 0 {
					t.Fatalf("page %d returned without a request for the next page", p.Number)
				}
				if got, want := <-g.arrived, strings.TrimPrefix(l.pageURL(p.Next), g.srv.URL); got != want {
					t.Fatalf("after page %d the server holds %s, want %s", p.Number, got, want)
				}
				passes[p.Next.pass()] = true
				g.proceed <- struct{}{}
			}
			checkExactly(t, r, pages, recs)
			if r == Apps && len(passes) != len(appsPasses) {
				t.Errorf("passes asked for ahead: %v, want all %d", passes, len(appsPasses))
			}
			if len(l.ahead) != 0 {
				t.Error("a request ahead is left after io.EOF")
			}
		})
	}
}

// TestListAheadCancel: cancelling the context of the Next calls ends the
// request made ahead (the server sees it cancelled) and its goroutine; the
// next Next says CANCELED.
func TestListAheadCancel(t *testing.T) {
	for _, r := range Resources() {
		t.Run(string(r), func(t *testing.T) {
			g := newGatedAPI(t, r, genRecords(r, 12, 2))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := g.client(t, WithPageSize(4)).List("acme", r, Cursor{})
			if _, err := l.Next(ctx); err != nil {
				t.Fatal(err)
			}
			if len(l.ahead) != 1 {
				t.Fatalf("%d requests ahead, want 1", len(l.ahead))
			}
			a := l.ahead[0]
			<-g.arrived // held by the server
			cancel()
			<-a.done // the goroutine ends without a further Next
			if a.err == nil || !a.ended {
				t.Fatalf("the request ahead ended with %v, want its context's end", a.err)
			}
			_, err := l.Next(ctx)
			if status.Code(err) != codes.Canceled || !errors.Is(err, context.Canceled) {
				t.Fatalf("Next after cancel: %v, want CANCELED", err)
			}
		})
	}
}

// TestListAheadContextPerCall: a request made ahead under the context of
// one Next call, which then ended, is made again under the next call's
// context; the listing goes on as if nothing happened.
func TestListAheadContextPerCall(t *testing.T) {
	for _, r := range Resources() {
		t.Run(string(r), func(t *testing.T) {
			recs := genRecords(r, 12, 2)
			g := newGatedAPI(t, r, recs)
			l := g.client(t, WithPageSize(4)).List("acme", r, Cursor{})
			ctx1, cancel1 := context.WithCancel(context.Background())
			p1, err := l.Next(ctx1)
			if err != nil {
				t.Fatal(err)
			}
			a := l.ahead[0]
			<-g.arrived
			cancel1()
			<-a.done
			g.serveAll()
			pages := []*Page{p1}
			for {
				p, err := l.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if p.Number != len(pages)+1 {
					t.Fatalf("page number %d, want %d", p.Number, len(pages)+1)
				}
				pages = append(pages, p)
			}
			checkExactly(t, r, pages, recs)
		})
	}
}

// TestListClose: a caller that stops before the end and keeps its context
// can Close the listing, which ends the request made ahead; a later Next
// asks for the page again.
func TestListClose(t *testing.T) {
	recs := genRecords(Developers, 12, 2)
	g := newGatedAPI(t, Developers, recs)
	l := g.client(t, WithPageSize(4)).List("acme", Developers, Cursor{})
	p1, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a := l.ahead[0]
	<-g.arrived
	l.Close()
	select {
	case <-a.done:
	default:
		t.Fatal("Close returned before the request ahead ended")
	}
	if len(l.ahead) != 0 {
		t.Fatal("Close left the request ahead in place")
	}
	l.Close() // twice is fine
	g.serveAll()
	pages := []*Page{p1}
	for {
		p, err := l.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	checkExactly(t, Developers, pages, recs)
	if n := len(g.log()); n != 5 { // pages 1, 2 (closed), 2, 3, 4 (startKey of the last: short)
		t.Errorf("%d requests, want 5", n)
	}
}

// TestListAheadErrorInOrder: an error on the page asked for ahead comes
// from the Next call for that page, never earlier.
func TestListAheadErrorInOrder(t *testing.T) {
	for _, r := range Resources() {
		t.Run(string(r), func(t *testing.T) {
			f := newFakeAPI(t, map[Resource][]proto.Message{r: genRecords(r, 12, 2)})
			f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
				if q := req.URL.Query(); q.Get("startKey") != "" || q.Get("pageToken") != "" {
					googleErr(w, 403, "PERMISSION_DENIED", "revoked mid-export")
					return true
				}
				return false
			}
			l := f.client(t, WithPageSize(4)).List("acme", r, Cursor{})
			if _, err := l.Next(context.Background()); err != nil {
				t.Fatalf("page 1: %v", err)
			}
			_, err := l.Next(context.Background())
			if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "revoked mid-export") {
				t.Fatalf("page 2: %v, want PERMISSION_DENIED", err)
			}
		})
	}
}

// TestRequestAheadGoesOutBeforeTheDecoding: the request made ahead is
// written to the network before the listing decodes the page it follows,
// even with a single processor, where the new goroutine would otherwise
// wait for the decoding (and Next's return). Counted over many pages, since
// the scheduler takes the yielding goroutine back first now and then.
func TestRequestAheadGoesOutBeforeTheDecoding(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, r := range []Resource{APIProducts, Developers} {
		f := newFakeAPI(t, map[Resource][]proto.Message{r: genRecords(r, 60, 2)})
		l := f.client(t, WithPageSize(4)).List("acme", r, Cursor{})
		var written atomic.Int64
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { written.Add(1) },
		})
		early, pages := 0, 0
		for {
			p, err := l.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if p.Next.Done {
				continue
			}
			if written.Load() > int64(pages) { // the request for the page after p
				early++
			}
		}
		t.Logf("%s: %d of %d requests written before Next returned the page before", r, early, pages)
		if pages < 15 || early < pages/2 {
			t.Errorf("%s: the request for the next page was written before Next returned for %d of %d pages, want most", r, early, pages)
		}
	}
}
