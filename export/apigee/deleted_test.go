package apigee_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
)

// TestListGoesOnPastDeletedDevelopers: developers are deleted while the
// export pages through them, each one just as a follow-up page asks to
// start from it. Apigee answers a startKey that no longer exists with 404
// (developer_doesnot_exist), so the listing must go on from the developer
// before it rather than fail the export. The deleted developers were
// listed on the page before (they ended it), so every developer is listed,
// once; a warning counts the steps back. Deleting two in a row (the start
// key and the developer before it) makes it step back twice. The reference
// does not say what Apigee answers for a startKey that no longer exists:
// a server answering an empty page must not end the listing there either.
func TestListGoesOnPastDeletedDevelopers(t *testing.T) {
	type testCase struct {
		name   string
		before int  // how many developers before the start key to delete with it
		empty  bool // the emulator answers a missing startKey with an empty page
	}
	var cases []testCase
	for _, empty := range []bool{false, true} {
		answer := "404"
		if empty {
			answer = "empty page"
		}
		cases = append(cases,
			testCase{"the start key/" + answer, 0, empty},
			testCase{"the start key and the one before it/" + answer, 1, empty})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 450, Seed: 5})
			order := map[string]int{}
			for i, d := range data.Orgs[0].Developers {
				order[d.GetEmail()] = i
			}
			var (
				mu      sync.Mutex
				deleted = map[string]bool{}
				follow  int // follow-up page requests; the 1st and 3rd delete
			)
			var emu *emulator.Server
			emu, err := emulator.Start(data, emulator.Options{EmptyForMissingStartKey: tc.empty, Intercept: func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/developers") {
					return false
				}
				k := r.URL.Query().Get("startKey")
				mu.Lock()
				defer mu.Unlock()
				if k == "" || deleted[k] {
					return false
				}
				if follow++; follow == 1 || follow == 3 {
					i, ok := order[k]
					if !ok {
						t.Errorf("startKey %q is no developer", k)
						return false
					}
					for _, d := range data.Orgs[0].Developers[i-tc.before : i+1] {
						victim := d.GetEmail()
						req, _ := http.NewRequest(http.MethodDelete, emu.URL+"/v1/organizations/acme/developers/"+url.PathEscape(victim), nil)
						resp, err := http.DefaultClient.Do(req)
						if err != nil || resp.StatusCode != http.StatusOK {
							t.Errorf("deleting %s: %v %v", victim, resp.Status, err)
						}
						resp.Body.Close()
						deleted[victim] = true
					}
				}
				return false
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer emu.Close()
			c, err := apigee.NewClient(context.Background(), apigee.WithBaseURL(emu.URL), apigee.WithoutAuthentication(), apigee.WithPageSize(100))
			if err != nil {
				t.Fatal(err)
			}
			l := c.List("acme", apigee.Developers, apigee.Cursor{})
			var got []proto.Message
			var warned int64
			for {
				p, err := l.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("after %d developers: %v", len(got), err)
				}
				got = append(got, p.Records...)
				for _, w := range p.Warnings {
					if strings.Contains(w.Text, "deleted while the export paged") {
						warned += w.Count
					}
				}
			}
			if len(deleted) != 2*(1+tc.before) {
				t.Fatalf("%d developers deleted, want %d: the test did not test", len(deleted), 2*(1+tc.before))
			}
			var want []proto.Message
			for _, d := range data.Orgs[0].Developers {
				want = append(want, d)
			}
			checkSameRecords(t, apigee.Developers, got, want)
			if want := int64(2 * (1 + tc.before)); warned != want {
				t.Errorf("%d steps back warned about, want %d (one per deleted developer a page started from)", warned, want)
			}
		})
	}
}
