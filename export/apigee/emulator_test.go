package apigee_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// TestClientAgainstEmulator lists every resource of organizations of the
// sizes where paging goes wrong (empty, one record, one short of a page, a
// full page, one over, two pages and one) from the Apigee emulator with 10%
// of requests answered 429 or 503 (the 503s without Retry-After, so the
// client's millisecond backoff paces the retries), and checks that the
// client returns exactly the emulator's records, each once. (The same
// listings without faults, which tried the same pages with nothing in
// between, are TestListExactRecordSets's, against the fake API.)
func TestClientAgainstEmulator(t *testing.T) {
	t.Parallel() // among the slowest: it runs beside the others after the rest
	for _, n := range []int{0, 1, 999, 1000, 1001, 2001} {
		data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: n, Apps: n, APIProducts: n, Seed: int64(n) + 1})
		org := data.Orgs[0]
		want := map[apigee.Resource][]proto.Message{}
		for _, d := range org.Developers {
			want[apigee.Developers] = append(want[apigee.Developers], d)
		}
		for _, a := range org.Apps {
			want[apigee.Apps] = append(want[apigee.Apps], a)
		}
		for _, p := range org.APIProducts {
			want[apigee.APIProducts] = append(want[apigee.APIProducts], p)
		}
		emu := exporttest.Emulator(t, data, emulator.Options{FaultRate: 0.1, FaultRetryAfter: -1})
		c := exporttest.ApigeeClient(t, emu, apigee.WithRetry(10, time.Millisecond, 5*time.Millisecond))
		for _, r := range apigee.Resources() {
			t.Run(fmt.Sprintf("%s/n=%d", r, n), func(t *testing.T) {
				got, pages := listAll(t, c, r)
				checkSameRecords(t, r, got, want[r])
				if wantPages := max(1, (n+998)/999); r != apigee.Apps && pages > wantPages+1 {
					t.Errorf("%d pages for %d records", pages, n)
				}
			})
		}
		emu.Close() // now, not at the end of the test
	}
}

func listAll(t *testing.T, c *apigee.Client, r apigee.Resource) ([]proto.Message, int) {
	t.Helper()
	l := c.List("acme", r, apigee.Cursor{})
	var out []proto.Message
	pages := 0
	for {
		p, err := l.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out, pages
		}
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		out = append(out, p.Records...)
	}
}

// listRest reads l to its end, failing the test on an error, and returns
// its records and merged warnings.
func listRest(t *testing.T, l *apigee.Lister) ([]proto.Message, []apigee.Warning) {
	t.Helper()
	return listPages(t, l, nil)
}

// listPages is listRest that also hands each page, as it comes, to each
// (when not nil), for tests that check what every page says.
func listPages(t *testing.T, l *apigee.Lister, each func(*apigee.Page)) ([]proto.Message, []apigee.Warning) {
	t.Helper()
	var got []proto.Message
	var ws []apigee.Warning
	for {
		p, err := l.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return got, ws
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(got), err)
		}
		got = append(got, p.Records...)
		ws = apigee.MergeWarnings(ws, p.Warnings)
		if each != nil {
			each(p)
		}
	}
}

func checkSameRecords(t *testing.T, r apigee.Resource, got, want []proto.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	byKey := make(map[string]proto.Message, len(want))
	for _, w := range want {
		byKey[r.Key(w)] = w
	}
	seen := make(map[string]bool, len(got))
	for _, g := range got {
		k := r.Key(g)
		if seen[k] {
			t.Fatalf("%s %q listed twice", r, k)
		}
		seen[k] = true
		if w, ok := byKey[k]; !ok || !proto.Equal(g, w) {
			t.Fatalf("%s %q differs from the emulator's record", r, k)
		}
	}
}

// TestListIncludesCompanyDevelopers lists an organization where a tenth of
// the developers belong to companies, which developers.list leaves out
// unless asked with includeCompany=true: every one must be exported.
func TestListIncludesCompanyDevelopers(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 2500, Seed: 11})
	var want []proto.Message
	company := 0
	for _, d := range data.Orgs[0].Developers {
		want = append(want, d)
		if len(d.GetCompanies()) > 0 {
			company++
		}
	}
	if company == 0 {
		t.Fatal("no company developers generated")
	}
	emu := exporttest.Emulator(t, data, emulator.Options{})
	c := exporttest.ApigeeClient(t, emu)
	got, _ := listAll(t, c, apigee.Developers)
	checkSameRecords(t, apigee.Developers, got, want)
}

// TestListAPIProductsInSpaces: the API may cut count API products and then
// leave out those of Spaces the caller may not list, so a short page need
// not be the last: it is followed by one more request, and every product
// the caller may list is exported, with a warning, also when the caller
// sees no product in a Space at all. Every listing pays that one request.
func TestListAPIProductsInSpaces(t *testing.T) {
	const n, size = 300, 50
	// The pages of a plain listing: size records, then size-1 new ones a
	// page after the startKey record, until a page is short.
	plainPages := 1
	for got, page := size, size; page == size; plainPages++ {
		page = min(size, n-got+1)
		got += page - 1
	}
	for _, c := range []struct {
		name      string
		spaces    bool
		denied    []string
		wantPages int // requests; 0: not checked
		warned    bool
	}{
		{name: "no Spaces", wantPages: plainPages + 1},
		{name: "Spaces, none denied", spaces: true, wantPages: plainPages + 1},
		{name: "Spaces, one denied", spaces: true, denied: []string{"space-1"}, warned: true},
		{name: "Spaces, every one denied", spaces: true, denied: []string{"space-0", "space-1", "space-2", "space-3", "space-4"}, warned: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := emulator.Generate(emulator.GenerateSpec{Org: "acme", APIProducts: n, Seed: 4, Spaces: c.spaces})
			var want []proto.Message
			for _, p := range data.Orgs[0].APIProducts {
				if !slices.Contains(c.denied, p.GetSpace()) {
					want = append(want, p)
				}
			}
			if len(want) == n && c.denied != nil {
				t.Fatal("no product generated in a denied Space")
			}
			var requests atomic.Int32
			emu := exporttest.Emulator(t, data, emulator.Options{DeniedSpaces: c.denied, SpacesAfterCount: true, Intercept: func(w http.ResponseWriter, r *http.Request) bool {
				if strings.HasSuffix(r.URL.Path, "/apiproducts") {
					requests.Add(1)
				}
				return false
			}})
			cl := exporttest.ApigeeClient(t, emu, apigee.WithPageSize(size))
			l := cl.List("acme", apigee.APIProducts, apigee.Cursor{})
			got, warnings := listRest(t, l)
			checkSameRecords(t, apigee.APIProducts, got, want)
			if c.wantPages > 0 && int(requests.Load()) != c.wantPages {
				t.Errorf("%d requests, want %d", requests.Load(), c.wantPages)
			}
			spaceWarned := slices.ContainsFunc(warnings, func(w apigee.Warning) bool { return strings.Contains(w.Text, "Apigee Spaces") })
			if spaceWarned != c.warned {
				t.Errorf("warnings %v: Spaces warning %v, want %v", warnings, spaceWarned, c.warned)
			}
		})
	}
}

// TestDeveloperAppsCapWarned: developers.get "includes only the first 100
// developer apps", so a developer read with 100 names or more in apps may
// have more apps than it names: the listing warns, counting such
// developers, whether they come from the list or from one get each (the
// emulator caps only get), and not for 99.
func TestDeveloperAppsCapWarned(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 4, Seed: 12})
	devs := data.Orgs[0].Developers
	// The listing resumes after the first developer: with
	// ExpandIgnoredWithStartKey, which expands only a first page without
	// count and startKey, every developer then comes by get.
	for i, n := range []int{0, 99, 150, 100} {
		devs[i].Apps = nil
		for j := range n {
			devs[i].Apps = append(devs[i].Apps, fmt.Sprintf("app-%d-%d", i, j))
		}
	}
	for _, mode := range []emulator.ExpandMode{emulator.ExpandHonoured, emulator.ExpandIgnoredWithStartKey} {
		t.Run(mode.String(), func(t *testing.T) {
			emu := exporttest.Emulator(t, data, emulator.Options{DeveloperExpand: mode})
			l := exporttest.ApigeeClient(t, emu, apigee.WithPageSize(2)).List("acme", apigee.Developers, apigee.Cursor{StartKey: devs[0].GetEmail()})
			var warnings []apigee.Warning
			apps := map[string]int{}
			for {
				p, err := l.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				warnings = apigee.MergeWarnings(warnings, p.Warnings)
				for _, r := range p.Records {
					d := r.(*apigeepb.Developer)
					apps[d.GetEmail()] = len(d.GetApps())
				}
			}
			// The list shows all 150 names, a get the first 100.
			first := map[emulator.ExpandMode]int{emulator.ExpandHonoured: 150, emulator.ExpandIgnoredWithStartKey: 100}[mode]
			if len(apps) != 3 || apps[devs[2].GetEmail()] != first || apps[devs[1].GetEmail()] != 99 {
				t.Fatalf("developers' app counts %v", apps)
			}
			var capped int64 = -1
			for _, w := range warnings {
				if strings.Contains(w.Text, "first 100 developer apps") && strings.Contains(w.Text, "apps export lists every app") {
					capped = w.Count
				}
			}
			if capped != 2 {
				t.Fatalf("warnings %v: want the 100-apps warning for 2 developers", warnings)
			}
		})
	}
}
