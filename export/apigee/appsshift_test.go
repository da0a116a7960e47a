package apigee_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// The apps list's pageToken is documented as "The starting index record"
// (apigee-api.md §7.3): an app deleted or revoked before the index while
// the export pages shifts every later page by one, and the app that was
// first on the next page is on none. These tests change the organization
// in the emulator (which answers index tokens by default) while the client
// pages, and check that every app is exported exactly once all the same.

// shiftPageSize is the client's page size here: small pages, so that a
// pass of a small organization has many page boundaries.
const shiftPageSize = 25

// shiftData is an organization of n apps, about 85% of them in the first
// pass (approved apps with an approved key), and that pass's app ids.
func shiftData(seed int64, n int) (*emulator.Data, []*apigeeApp) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 50, Apps: n, Seed: seed})
	var first []*apigeeApp
	for _, a := range data.Orgs[0].Apps {
		if a.GetStatus() != "approved" {
			continue
		}
		keyed := len(a.GetCredentials()) == 0
		for _, c := range a.GetCredentials() {
			keyed = keyed || c.GetStatus() == "approved"
		}
		if keyed {
			first = append(first, &apigeeApp{id: a.GetAppId()})
		}
	}
	return data, first
}

type apigeeApp struct{ id string }

// firstPassPage says whether r asks for a follow-up page of the first apps
// pass (by token or, once the client pages by key, by startKey), and which
// request of that kind it is.
type firstPassCounter struct {
	mu sync.Mutex
	n  int
}

func (c *firstPassCounter) follow(r *http.Request) (int, bool) {
	q := r.URL.Query()
	if !strings.HasSuffix(r.URL.Path, "/apps") || q.Get("status") != "approved" || q.Get("keyStatus") != "approved" {
		return 0, false
	}
	if q.Get("pageToken") == "" && q.Get("startKey") == "" {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n, true
}

// dirSpill is an apigee.Spill in a test's temporary folder.
type dirSpill struct{ dir string }

type dirSpillWriter struct {
	*os.File
	final string
}

func (s dirSpill) Create(ctx context.Context, name string) (apigee.SpillWriter, error) {
	f, err := os.CreateTemp(s.dir, "partial-")
	if err != nil {
		return nil, err
	}
	return &dirSpillWriter{File: f, final: filepath.Join(s.dir, name)}, nil
}

func (w *dirSpillWriter) Close() error {
	if err := w.File.Close(); err != nil {
		return err
	}
	return os.Rename(w.File.Name(), w.final)
}

func (w *dirSpillWriter) Abort() {
	w.File.Close()
	os.Remove(w.File.Name())
}

func (s dirSpill) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(s.dir, name))
}

func (s dirSpill) Sizes(ctx context.Context, prefix string) (map[string]int64, error) {
	es, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, e := range es {
		if strings.HasPrefix(e.Name(), prefix) {
			fi, err := e.Info()
			if err != nil {
				return nil, err
			}
			out[e.Name()] = fi.Size()
		}
	}
	return out, nil
}

// listApps lists every app, with the passes read at once into a spill
// when parallel, and returns the records and the warnings.
func listApps(t *testing.T, c *apigee.Client, parallel bool) ([]proto.Message, []apigee.Warning) {
	t.Helper()
	l := c.List("acme", apigee.Apps, apigee.Cursor{})
	if parallel {
		l.ReadAhead(4, dirSpill{t.TempDir()}, nil)
	}
	defer l.Close()
	return listRest(t, l)
}

// allApps is every app of data, as it was generated.
func allApps(data *emulator.Data) []proto.Message {
	var out []proto.Message
	for _, a := range data.Orgs[0].Apps {
		out = append(out, a)
	}
	return out
}

// TestAppsIndexShift: while the first apps pass is paged, apps already
// exported are deleted or revoked, which shifts the documented index
// token. Every app must be exported exactly once (the deleted ones were
// exported before they went, and a revoked one is not exported again from
// the revoked passes), read one request at a time and with the passes at
// once: the listing sees totalSize fall and goes on by appId from the last
// app it read. When that app is itself deleted the API answers 404 and the
// listing steps back to an app before it; when every app of the last page
// is deleted it reads the pass again from its start.
//
// With the passes at once the first pass also has its pages asked for
// ahead by index (see indexahead.go), so the n-th follow-up request to
// arrive need not be for the n-th page, and the pages before it may be
// served after the change: a deleted app may then never have been
// listed, which is no loss. There every app not deleted must be exported
// exactly once, a deleted one at most once, and the fall must be seen.
func TestAppsIndexShift(t *testing.T) {
	data, ids := shiftData(41, 300)
	for _, tc := range []struct {
		name string
		// change is what happens before the n-th follow-up page of the
		// first pass is served (pages 1..n were, one request at a
		// time), to the first pass's apps in server order (ids); del
		// deletes an app.
		at     int
		change func(emu *emulator.Server, del func(id string) error, ids []*apigeeApp, n int) error
		warn   string // a warning the change must cause beside the fall, one request at a time
	}{
		{"deleted before the cursor", 3, func(emu *emulator.Server, del func(string) error, ids []*apigeeApp, n int) error {
			return del(ids[5].id)
		}, ""},
		{"revoked before the cursor", 3, func(emu *emulator.Server, del func(string) error, ids []*apigeeApp, n int) error {
			return emu.SetAppStatus("acme", ids[7].id, "revoked")
		}, ""},
		{"the anchor deleted", 4, func(emu *emulator.Server, del func(string) error, ids []*apigeeApp, n int) error {
			// The last app of the last page served: the listing's anchor.
			return del(ids[n*shiftPageSize-1].id)
		}, "went on from the app before each"},
		{"the anchor's whole page deleted", 2, func(emu *emulator.Server, del func(string) error, ids []*apigeeApp, n int) error {
			for _, a := range ids[(n-1)*shiftPageSize : n*shiftPageSize] {
				if err := del(a.id); err != nil {
					return err
				}
			}
			return nil
		}, "read again from its start"},
	} {
		for _, parallel := range []bool{false, true} {
			name := tc.name + "/one request at a time"
			if parallel {
				name = tc.name + "/passes at once"
			}
			t.Run(name, func(t *testing.T) {
				var (
					emu     *emulator.Server
					counter firstPassCounter
					changed sync.Once
					done    bool
					gone    = map[string]bool{}
				)
				del := func(id string) error {
					gone[id] = true
					return emu.DeleteApp("acme", id)
				}
				emu = exporttest.Emulator(t, data, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
					if n, ok := counter.follow(r); ok && n == tc.at {
						changed.Do(func() {
							if err := tc.change(emu, del, ids, n); err != nil {
								t.Error(err)
							}
							done = true
						})
					}
					return false
				}})
				c := exporttest.ApigeeClient(t, emu, apigee.WithPageSize(shiftPageSize))
				got, ws := listApps(t, c, parallel)
				if !done {
					t.Fatal("nothing changed: the test did not test")
				}
				want := allApps(data)
				if parallel {
					want = slices.DeleteFunc(want, func(m proto.Message) bool {
						return gone[apigee.Apps.Key(m)] && !slices.ContainsFunc(got, func(g proto.Message) bool { return apigee.Apps.Key(g) == apigee.Apps.Key(m) })
					})
				}
				checkSameRecords(t, apigee.Apps, got, want)
				if !hasWarningText(ws, "totalSize fell") || (!parallel && !hasWarningText(ws, tc.warn)) {
					t.Errorf("warnings %v do not say the listing went on by appId (and %q)", ws, tc.warn)
				}
			})
		}
	}
}

func hasWarningText(ws []apigee.Warning, text string) bool {
	for _, w := range ws {
		if strings.Contains(w.Text, text) {
			return true
		}
	}
	return false
}

// TestAppsPre110: on an organization older than 1.10 apps.list ignores
// pageSize and pageToken ("supported from ver 1.10.0 and above") and
// answers at most 1000 apps ("rows ... Defaults to 1000") with no
// nextPageToken. Every app of a pass over 1000 must be exported, by rows
// and startKey from the last app of each full page: one request at a time
// and with the passes at once, and from an organization that sends no
// totalSize either, where only the full page says that more may follow.
// A pass whose every startKey is answered 404 (each app it goes on from
// deleted at once) steps back over the apps it kept, reads the pass again
// from its start a bounded number of times, and then fails ABORTED rather
// than looping. One emulator serves them all (through a front that can
// take totalSize out or answer 404), so its pages are rendered once.
func TestAppsPre110(t *testing.T) {
	data, ids := shiftData(42, 1300)
	if len(ids) <= 1000 {
		t.Fatalf("%d apps in the first pass, want more than 1000", len(ids))
	}
	h := emulator.NewHandler(data, emulator.Options{AppsPaging: emulator.AppsPre110})
	serve := func(t *testing.T, size int, noTotal, missing bool) (c *apigee.Client, requests func() int) {
		var (
			mu sync.Mutex
			n  int
		)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n++
			mu.Unlock()
			if k := r.URL.Query().Get("startKey"); missing && k != "" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprintf(w, `{"error":{"code":404,"message":"App with appId %s does not exist","status":"NOT_FOUND"}}`, k)
				return
			}
			if !noTotal {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
			w.WriteHeader(rec.Code)
			w.Write(withoutTotal(rec.Body.Bytes()))
		}))
		t.Cleanup(srv.Close)
		c, err := apigee.NewClient(context.Background(), apigee.WithBaseURL(srv.URL), apigee.WithoutAuthentication(), apigee.WithPageSize(size))
		if err != nil {
			t.Fatal(err)
		}
		return c, func() int { mu.Lock(); defer mu.Unlock(); return n }
	}
	for _, c := range []struct {
		size     int
		parallel bool
		noTotal  bool
	}{{shiftPageSize * 8, false, false}, {1000, true, false}, {shiftPageSize * 8, false, true}} {
		cl, _ := serve(t, c.size, c.noTotal, false)
		got, ws := listApps(t, cl, c.parallel)
		checkSameRecords(t, apigee.Apps, got, allApps(data))
		if !hasWarningText(ws, "without nextPageToken") {
			t.Errorf("%+v: warnings %v do not say the listing went on by rows and startKey", c, ws)
		}
	}

	cl, requests := serve(t, 1000, false, true)
	l := cl.List("acme", apigee.Apps, apigee.Cursor{})
	var err error
	for err == nil {
		_, err = l.Next(context.Background())
	}
	if status.Code(err) != codes.Aborted {
		t.Fatalf("every startKey missing: %v, want ABORTED", err)
	}
	// The probes, then per start of the pass its first page and a 404
	// for its last app and each of the 16 kept before it.
	if n := requests(); n > 3+4*(1+17) {
		t.Errorf("every startKey missing: %d requests before giving up", n)
	}
}

// withoutTotal is a page with its totalSize (its last field) taken out.
func withoutTotal(body []byte) []byte {
	i := bytes.LastIndex(body, []byte(`"totalSize":`))
	if i <= 0 {
		return body
	}
	j := i + len(`"totalSize":`)
	for j < len(body) && body[j] >= '0' && body[j] <= '9' {
		j++
	}
	if body[i-1] == ',' {
		i--
	}
	return append(body[:i:i], body[j:]...)
}

// TestAppsResumeAfterShift: a listing resumed from a page's cursor after an
// app before it was deleted (hours later, say) goes on from the same app
// as one that never stopped: its first page shows a lower totalSize than
// the cursor recorded, so it re-anchors by appId.
func TestAppsResumeAfterShift(t *testing.T) {
	data, ids := shiftData(43, 300)
	emu := exporttest.Emulator(t, data, emulator.Options{})
	c := exporttest.ApigeeClient(t, emu, apigee.WithPageSize(shiftPageSize))
	seed := apigee.NewKeySeed()
	l := c.List("acme", apigee.Apps, apigee.Cursor{})
	l.TrackKeys(seed)
	var got []proto.Message
	var at apigee.Cursor
	for range 3 {
		p, err := l.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Records...)
		at = p.Next
	}
	hashes := l.TakeNewKeys()
	l.Close()
	if err := emu.DeleteApp("acme", ids[10].id); err != nil {
		t.Fatal(err)
	}
	// Through JSON, as a checkpoint keeps it.
	b, err := json.Marshal(at)
	if err != nil {
		t.Fatal(err)
	}
	var from apigee.Cursor
	if err := json.Unmarshal(b, &from); err != nil || from != at {
		t.Fatalf("cursor %s read back as %+v (%v)", b, from, err)
	}
	l = c.List("acme", apigee.Apps, from)
	l.TrackKeys(seed)
	l.Seen(hashes)
	rest, ws := listRest(t, l)
	got = append(got, rest...)
	checkSameRecords(t, apigee.Apps, got, allApps(data))
	if at.After == "" || at.Total == 0 || !hasWarningText(ws, "totalSize fell") {
		t.Errorf("cursor %+v, warnings %v: the resumed listing did not re-anchor by appId", at, ws)
	}
}
