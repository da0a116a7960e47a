package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// appIDs returns the ids of generated apps with status st, in server order.
func appIDs(o *Org, st string) []string {
	var out []string
	for _, a := range o.Apps {
		if a.GetStatus() == st {
			out = append(out, a.GetAppId())
		}
	}
	return out
}

func totalSize(t *testing.T, m map[string]json.RawMessage) int {
	t.Helper()
	n, err := strconv.Atoi(string(m["totalSize"]))
	if err != nil {
		t.Fatalf("totalSize %q", m["totalSize"])
	}
	return n
}

// TestAppsTokenPaging walks pageToken pages: totalSize on every page,
// nextPageToken on all but the last, and every approved app exactly once.
func TestAppsTokenPaging(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 50, Apps: 3001, APIProducts: 10, Seed: 11})
	s := start(t, d, Options{})
	want := appIDs(d.Orgs[0], "approved")
	var got []string
	token := ""
	pages := 0
	for {
		u := orgURL(s, "acme") + "/apps?pageSize=1000"
		if token != "" {
			u += "&pageToken=" + url.QueryEscape(token)
		}
		m := get(t, u).ok(t)
		pages++
		if n := totalSize(t, m); n != len(want) {
			t.Fatalf("page %d: totalSize %s, want %d approved apps", pages, m["totalSize"], len(want))
		}
		got = append(got, keysOf(t, items(t, m, "app"), "appId")...)
		raw, more := m["nextPageToken"]
		if !more {
			break
		}
		token = str(t, raw)
		if token == "" {
			t.Fatal("an empty nextPageToken was sent instead of omitting it")
		}
	}
	if pages != (len(want)+999)/1000 || !slices.Equal(got, want) {
		t.Fatalf("%d pages, %d apps; want %d apps in server order", pages, len(got), len(want))
	}

	// pageSize above 1000 is coerced, not refused.
	if n := len(items(t, get(t, orgURL(s, "acme")+"/apps?pageSize=5000").ok(t), "app")); n != 1000 {
		t.Fatalf("pageSize=5000: %d apps, want 1000", n)
	}
	// A token made for one status is refused for another; junk is refused.
	m := get(t, orgURL(s, "acme")+"/apps?pageSize=10").ok(t)
	tok := url.QueryEscape(str(t, m["nextPageToken"]))
	get(t, orgURL(s, "acme")+"/apps?status=revoked&pageToken="+tok).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	get(t, orgURL(s, "acme")+"/apps?pageToken=bm9wZQ").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	get(t, orgURL(s, "acme")+"/apps?pageSize=-1").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
}

// TestAppsLegacyPaging is the rows + startKey style: no nextPageToken at
// all, a silent 1000 cap, and an inclusive startKey.
func TestAppsLegacyPaging(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 50, Apps: 1500, Seed: 12})
	s := start(t, d, Options{})
	want := appIDs(d.Orgs[0], "approved")
	base := orgURL(s, "acme") + "/apps"
	for _, q := range []string{"", "?rows=20000"} {
		m := get(t, base+q).ok(t)
		if _, ok := m["nextPageToken"]; ok {
			t.Fatalf("%q: nextPageToken without pageSize", q)
		}
		if ids := keysOf(t, items(t, m, "app"), "appId"); !slices.Equal(ids, want[:1000]) {
			t.Fatalf("%q: %d apps, want the first 1000 approved", q, len(ids))
		}
	}
	ids := keysOf(t, items(t, get(t, base+"?rows=10&startKey="+want[10]).ok(t), "app"), "appId")
	if !slices.Equal(ids, want[10:20]) {
		t.Fatalf("startKey %s: %v, want the page to start with it", want[10], ids)
	}
	get(t, base+"?startKey=00000000-0000-4000-8000-000000000000").googleError(t, http.StatusNotFound, "NOT_FOUND")
	get(t, base+"?rows=0").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
}

func TestAppsStatusFilterAndShapes(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 20, Apps: 400, APIProducts: 8, Seed: 13})
	s := start(t, d, Options{})
	o := d.Orgs[0]
	approved, revoked := appIDs(o, "approved"), appIDs(o, "revoked")
	if len(revoked) == 0 {
		t.Fatal("no revoked apps generated")
	}
	base := orgURL(s, "acme") + "/apps"
	def := get(t, base+"?pageSize=1000").ok(t)
	if ids := keysOf(t, items(t, def, "app"), "appId"); !slices.Equal(ids, approved) || totalSize(t, def) != len(approved) {
		t.Fatalf("default status: %d apps, want only the %d approved", len(ids), len(approved))
	}
	rev := get(t, base+"?status=revoked&pageSize=1000").ok(t)
	if ids := keysOf(t, items(t, rev, "app"), "appId"); !slices.Equal(ids, revoked) || totalSize(t, rev) != len(revoked) {
		t.Fatalf("status=revoked: %d apps, want the %d revoked", len(ids), len(revoked))
	}
	get(t, base+"?status=all").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	get(t, base+"?keyStatus=revoked").googleError(t, http.StatusNotImplemented, "UNIMPLEMENTED")

	byID := map[string]*apigeepb.App{}
	for _, a := range o.Apps {
		byID[a.GetAppId()] = a
	}
	// expand=true&includeCred=true: the stored apps, credentials and all.
	for _, raw := range items(t, get(t, base+"?expand=true&includeCred=true&status=revoked").ok(t), "app") {
		a := decode(t, raw, &apigeepb.App{})
		if !proto.Equal(a, byID[a.GetAppId()]) {
			t.Fatalf("app %s differs from the stored one", a.GetAppId())
		}
	}
	// Without includeCred the credentials are left out.
	for _, raw := range items(t, get(t, base+"?expand=true&pageSize=50").ok(t), "app") {
		if strings.Contains(string(raw), "consumerKey") {
			t.Fatalf("credentials without includeCred: %s", raw)
		}
		a := decode(t, raw, &apigeepb.App{})
		want := proto.CloneOf(byID[a.GetAppId()])
		want.Credentials = nil
		if !proto.Equal(a, want) {
			t.Fatalf("app %s without credentials differs from the stored one", a.GetAppId())
		}
	}
	// One app by id, with credentials.
	a0 := o.Apps[0]
	if got := decode(t, get(t, base+"/"+a0.GetAppId()).body, &apigeepb.App{}); !proto.Equal(got, a0) {
		t.Fatal("apps.get differs from the stored app")
	}
}
