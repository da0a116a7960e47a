package apigee_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// listDevelopers lists developers of acme from cur to the end: every record in
// order, every warning merged, and the cursor after each page.
func listDevelopers(t *testing.T, l *apigee.Lister) (recs []proto.Message, warnings []apigee.Warning, cursors []apigee.Cursor) {
	t.Helper()
	for {
		p, err := l.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return recs, warnings, cursors
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, p.Records...)
		warnings = apigee.MergeWarnings(warnings, p.Warnings)
		cursors = append(cursors, p.Next)
	}
}

func warningCount(ws []apigee.Warning, text string) (int64, bool) {
	for _, w := range ws {
		if strings.Contains(w.Text, text) {
			return w.Count, true
		}
	}
	return 0, false
}

// sameInOrder asserts that got holds want's records, in want's order,
// each equal to want's, and marshalled to the same bytes.
func sameInOrder(t *testing.T, got, want []proto.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d developers, want %d", len(got), len(want))
	}
	for i := range got {
		gb, err1 := proto.MarshalOptions{Deterministic: true}.Marshal(got[i])
		wb, err2 := proto.MarshalOptions{Deterministic: true}.Marshal(want[i])
		if err1 != nil || err2 != nil || string(gb) != string(wb) || !proto.Equal(got[i], want[i]) {
			t.Fatalf("developer %d: %q differs from %q of the expanded listing", i, apigee.Developers.Key(got[i]), apigee.Developers.Key(want[i]))
		}
	}
}

// TestDevelopersExpandModes lists organizations of 1, 999 and 2,001
// developers from an API that treats expand next to count and startKey in
// each way its reference allows: honouring it, ignoring it with count (the
// listing falls back to expand=true&startKey without count and says so),
// ignoring it with startKey too, or refusing it with 400 (both: the listing
// ends up listing emails and getting each developer, and says so with the
// number of calls). Every mode lists exactly the records, in the order, of
// the honoured listing; so does a listing resumed from each cursor it
// returned, together with what came before that cursor.
func TestDevelopersExpandModes(t *testing.T) {
	t.Parallel() // among the slowest: it runs beside the others after the rest
	for _, size := range []int{1, 999, 2001} {
		data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: size, Seed: 12})
		honoured := exporttest.Emulator(t, data, emulator.Options{})
		want, _, _ := listDevelopers(t, exporttest.ApigeeClient(t, honoured, apigee.WithRateLimit(0)).List("acme", apigee.Developers, apigee.Cursor{}))
		checkSameRecords(t, apigee.Developers, want, records(data.Orgs[0].Developers))
		for _, c := range []struct {
			mode     emulator.ExpandMode
			fallback bool  // listed with expand=true&startKey and no count
			gets     int64 // developers read one by one
		}{
			{emulator.ExpandHonoured, false, 0},
			{emulator.ExpandIgnoredWithCount, true, 0},
			// The first page, without count or startKey, is expanded: the
			// API's default page size, 1000, of them.
			{emulator.ExpandIgnoredWithStartKey, true, int64(max(size-1000, 0))},
			{emulator.ExpandRejected, true, int64(max(size-1000, 0))},
		} {
			t.Run(fmt.Sprintf("%d/%s", size, c.mode), func(t *testing.T) {
				emu := exporttest.Emulator(t, data, emulator.Options{DeveloperExpand: c.mode})
				client := exporttest.ApigeeClient(t, emu, apigee.WithRateLimit(0))
				got, warnings, cursors := listDevelopers(t, client.List("acme", apigee.Developers, apigee.Cursor{}))
				sameInOrder(t, got, want)
				if _, ok := warningCount(warnings, "expand=true and startKey only"); ok != c.fallback {
					t.Errorf("fallback warning %v, want %v: %v", ok, c.fallback, warnings)
				}
				if n, _ := warningCount(warnings, "one call per developer"); n != c.gets {
					t.Errorf("warned of %d developers read one by one, want %d: %v", n, c.gets, warnings)
				}
				// Resumed from each page's cursor, with the keys delivered
				// before it, as an export resumes from a checkpoint.
				for i, cur := range cursors {
					if cur.Done {
						continue
					}
					l := client.List("acme", apigee.Developers, cur)
					l.TrackKeys(apigee.KeySeed{1, 2})
					rest, _, _ := listDevelopers(t, l)
					sameInOrder(t, append(want[:len(want)-len(rest):len(want)-len(rest)], rest...), want)
					if size > 1000 && i == 0 && len(rest) != size-1000 {
						t.Errorf("resumed after page 1 of %d, listed %d developers, want %d", len(cursors), len(rest), size-1000)
					}
				}
			})
		}
	}
}

// TestListThenGetSkipsDeletedDevelopers: developers deleted after the page
// of emails that lists them and before their get (the emulator deletes
// each just as its get arrives) are skipped and counted in a warning; every
// other developer is exported, once, as listed, including when the deleted
// developer ends its page of emails.
func TestListThenGetSkipsDeletedDevelopers(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 2500, Seed: 21})
	all := data.Orgs[0].Developers
	// 1998 ends the first page of emails (999 to 1998) and starts the next:
	// whether that page was asked for before or after its deletion, the
	// listing goes on (see fallBack).
	victims := map[string]bool{all[1500].GetEmail(): true, all[1501].GetEmail(): true, all[1998].GetEmail(): true, all[2300].GetEmail(): true}
	var (
		mu      sync.Mutex
		deleted int
		emu     *emulator.Server
	)
	emu = exporttest.Emulator(t, data, emulator.Options{DeveloperExpand: emulator.ExpandRejected, Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		email, ok := strings.CutPrefix(r.URL.Path, "/v1/organizations/acme/developers/")
		if r.Method != http.MethodGet || !ok || !victims[email] {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		req, _ := http.NewRequest(http.MethodDelete, emu.URL+"/v1/organizations/acme/developers/"+url.PathEscape(email), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return false
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			deleted++
		}
		return false // the get itself then meets a deleted developer: 404
	}})
	got, warnings, _ := listDevelopers(t, exporttest.ApigeeClient(t, emu, apigee.WithRateLimit(0)).List("acme", apigee.Developers, apigee.Cursor{}))
	if deleted != len(victims) {
		t.Fatalf("deleted %d developers as their get arrived, want %d (were they read one by one?)", deleted, len(victims))
	}
	var want []proto.Message
	for _, d := range all {
		if !victims[d.GetEmail()] {
			want = append(want, d)
		}
	}
	checkSameRecords(t, apigee.Developers, got, want)
	if n, ok := warningCount(warnings, "deleted between their listing and their get"); !ok || n != int64(len(victims)) {
		t.Errorf("warned of %d developers deleted before their get, want %d: %v", n, len(victims), warnings)
	}
	if n, _ := warningCount(warnings, "one call per developer"); n != 1500 {
		t.Errorf("warned of %d developers read one by one, want 1500", n)
	}
}

// TestDevelopersStartKeyWithoutCountIgnored: an API that does not expand
// developers listed with count, and ignores a startKey sent without count
// (the reference says startKey "Must be used in conjunction with the count
// parameter"), answers the listing's second way, expand=true&startKey, with
// the list's first page again. The listing must not take that for an API
// fault (it once failed INTERNAL): a follow-up page that does not start
// with its startKey ends the undocumented way, and the documented one,
// emails with count and startKey then developers.get each, lists the rest.
func TestDevelopersStartKeyWithoutCountIgnored(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 1500, Seed: 12})
	want := records(data.Orgs[0].Developers)
	for _, mode := range []emulator.ExpandMode{emulator.ExpandIgnoredWithCount, emulator.ExpandIgnoredWithStartKey, emulator.ExpandRejected} {
		t.Run(mode.String(), func(t *testing.T) {
			emu := exporttest.Emulator(t, data, emulator.Options{DeveloperExpand: mode, StartKeyNeedsCount: true})
			got, warnings, _ := listDevelopers(t, exporttest.ApigeeClient(t, emu, apigee.WithRateLimit(0)).List("acme", apigee.Developers, apigee.Cursor{}))
			checkSameRecords(t, apigee.Developers, got, want)
			// The first page, without count or startKey, came expanded
			// (1000 of the API's default size); the rest were read one by
			// one.
			if _, ok := warningCount(warnings, "expand=true and startKey only"); !ok {
				t.Errorf("no warning of the listing without count: %v", warnings)
			}
			if n, _ := warningCount(warnings, "one call per developer"); n != 500 {
				t.Errorf("warned of %d developers read one by one, want 500: %v", n, warnings)
			}
		})
	}
}

// TestDevelopersBadRequestNamesTheFirstRefusal: a 400 after a page with a
// startKey came back expanded is not about expand: the listing fails with
// INVALID_ARGUMENT naming that request, without trying the other ways of
// listing developers. A 400 that does make it step down, and then a 400 to
// every other way too, fails naming the first request refused.
func TestDevelopersBadRequestNamesTheFirstRefusal(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 40, Seed: 3})
	for _, c := range []struct {
		name      string
		refuse    func(q url.Values, n int) bool // n: the developers list request's number, from 1
		firstPage int                            // the page whose request the error names first
		requests  int                            // developers list requests made
	}{
		{"after a page by key", func(q url.Values, n int) bool { return n >= 3 }, 3, 3},
		{"every page by key", func(q url.Values, n int) bool { return q.Has("startKey") }, 2, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				reqs []string
			)
			emu := exporttest.Emulator(t, data, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/v1/organizations/acme/developers" {
					return false
				}
				mu.Lock()
				reqs = append(reqs, r.URL.RawQuery)
				n := len(reqs)
				mu.Unlock()
				if !c.refuse(r.URL.Query(), n) {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error":{"code":400,"message":"the request is not valid here","status":"INVALID_ARGUMENT"}}`)
				return true
			}})
			client := exporttest.ApigeeClient(t, emu, apigee.WithRateLimit(0), apigee.WithPageSize(10))
			l := client.List("acme", apigee.Developers, apigee.Cursor{})
			var err error
			for err == nil {
				_, err = l.Next(context.Background())
			}
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want INVALID_ARGUMENT", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(reqs) != c.requests {
				t.Errorf("%d developers list requests, want %d: %q", len(reqs), c.requests, reqs)
			}
			msg := err.Error()
			first := fmt.Sprintf("page %d: GET ", c.firstPage)
			i := strings.Index(msg, first)
			if i < 0 || !strings.HasPrefix(msg[i+len(first):], emu.URL+"/v1/organizations/acme/developers?count=10&expand=true&") {
				t.Errorf("error %q does not start with the first refused request, page %d with expand=true and count", msg, c.firstPage)
			}
			if !strings.Contains(msg, "the request is not valid here") {
				t.Errorf("error %q lacks the API's message", msg)
			}
		})
	}
}
