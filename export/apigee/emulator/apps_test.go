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

// appIDs returns the ids of generated apps with status st that the list
// shows by default (keyStatus=approved, keyless apps included), in server
// order.
func appIDs(o *Org, st string) []string { return appIDsKeyed(o, st, "approved", KeylessApproved) }

// appIDsKeyed returns the ids of the apps with status st and a credential
// with status keyStatus, and the keyless ones where mode lists them, in
// server order. It reads the stored apps, not the emulator's key classes.
func appIDsKeyed(o *Org, st, keyStatus string, mode KeylessMode) []string {
	var out []string
	for _, a := range o.Apps {
		if a.GetStatus() != st {
			continue
		}
		match := false
		for _, c := range a.GetCredentials() {
			match = match || c.GetStatus() == keyStatus
		}
		if len(a.GetCredentials()) == 0 {
			match = mode == KeylessEvery || keyStatus == map[KeylessMode]string{KeylessApproved: "approved", KeylessRevoked: "revoked"}[mode]
		}
		if match {
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
	// By default a token is the plain decimal index of the next page's
	// first app; anything but a number is refused.
	m := get(t, orgURL(s, "acme")+"/apps?pageSize=10").ok(t)
	if tok := str(t, m["nextPageToken"]); tok != "10" {
		t.Fatalf("nextPageToken %q after 10 apps, want \"10\"", tok)
	}
	if ids := keysOf(t, items(t, get(t, orgURL(s, "acme")+"/apps?pageSize=3&pageToken=7").ok(t), "app"), "appId"); !slices.Equal(ids, want[7:10]) {
		t.Fatalf("pageToken=7: %v, want apps 7 to 9", ids)
	}
	for _, bad := range []string{"bm9wZQ", "-1", "1e3", "99999999999"} {
		get(t, orgURL(s, "acme")+"/apps?pageToken="+bad).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	}
	get(t, orgURL(s, "acme")+"/apps?pageSize=-1").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	// An encoded token made for one status is refused for another; junk
	// is refused.
	s = start(t, d, Options{AppsPaging: AppsEncodedIndexTokens})
	m = get(t, orgURL(s, "acme")+"/apps?pageSize=10").ok(t)
	tok := url.QueryEscape(str(t, m["nextPageToken"]))
	get(t, orgURL(s, "acme")+"/apps?status=revoked&pageToken="+tok).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	get(t, orgURL(s, "acme")+"/apps?pageToken=bm9wZQ").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	get(t, orgURL(s, "acme")+"/apps?pageToken=10").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
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
	get(t, base+"?filter=appType%3DDeveloper").googleError(t, http.StatusNotImplemented, "UNIMPLEMENTED")

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

// TestAppsKeyStatus: keyStatus filters apps by their credentials' status
// and defaults to approved (apigee-api.md §7.3, pitfall 10), so an app whose
// keys are all revoked appears only with keyStatus=revoked, an app with
// mixed keys under both, and a keyless app where the KeylessMode puts it;
// totalSize counts exactly what the filter returns; a token is bound to
// its keyStatus; any other value is 400 naming the parameter.
func TestAppsKeyStatus(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 20, Apps: 800, APIProducts: 8, Seed: 14})
	o := d.Orgs[0]
	var allRevoked, mixed, keyless int
	for _, a := range o.Apps {
		var ap, rv bool
		for _, c := range a.GetCredentials() {
			ap, rv = ap || c.GetStatus() == "approved", rv || c.GetStatus() == "revoked"
		}
		switch {
		case len(a.GetCredentials()) == 0:
			keyless++
		case ap && rv:
			mixed++
		case rv:
			allRevoked++
		}
	}
	if allRevoked == 0 || mixed == 0 || keyless == 0 {
		t.Fatalf("generated %d apps with only revoked keys, %d with mixed keys, %d without keys; want some of each", allRevoked, mixed, keyless)
	}
	for _, mode := range []KeylessMode{KeylessApproved, KeylessEvery, KeylessRevoked, KeylessNone} {
		s := start(t, d, Options{KeylessApps: mode})
		base := orgURL(s, "acme") + "/apps?pageSize=1000"
		for _, st := range []string{"approved", "revoked"} {
			for _, ks := range []string{"", "approved", "revoked"} {
				q := base + "&status=" + st
				want := appIDsKeyed(o, st, "approved", mode)
				if ks != "" {
					q += "&keyStatus=" + ks
					want = appIDsKeyed(o, st, ks, mode)
				}
				m := get(t, q).ok(t)
				if ids := keysOf(t, items(t, m, "app"), "appId"); !slices.Equal(ids, want) || totalSize(t, m) != len(want) {
					t.Fatalf("%v: status=%s keyStatus=%q: %d apps, totalSize %s; want %d", mode, st, ks, len(ids), m["totalSize"], len(want))
				}
			}
		}
	}
	s := start(t, d, Options{AppsPaging: AppsEncodedIndexTokens})
	base := orgURL(s, "acme") + "/apps"
	r := get(t, base+"?keyStatus=all")
	r.googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(r.body), "keyStatus") {
		t.Fatalf("the error does not name keyStatus: %s", r.body)
	}
	m := get(t, base+"?pageSize=10&keyStatus=revoked").ok(t)
	tok := url.QueryEscape(str(t, m["nextPageToken"]))
	get(t, base+"?keyStatus=approved&pageToken="+tok).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	get(t, base+"?keyStatus=revoked&pageSize=10&pageToken="+tok).ok(t)
}

// TestAppsTotalSizeAll: with TotalSizeAll every apps.list page's totalSize
// is the organization's app count, whatever its filters, while the apps
// listed are still the filtered ones.
func TestAppsTotalSizeAll(t *testing.T) {
	t.Parallel()
	d := Generate(GenerateSpec{Developers: 5, Apps: 60, APIProducts: 3, Seed: 9})
	o := d.Orgs[0]
	s := start(t, d, Options{TotalSizeAll: true})
	for _, st := range []string{"approved", "revoked"} {
		for _, ks := range []string{"approved", "revoked"} {
			m := get(t, orgURL(s, "acme")+"/apps?pageSize=1000&status="+st+"&keyStatus="+ks).ok(t)
			want := appIDsKeyed(o, st, ks, KeylessApproved)
			if ids := keysOf(t, items(t, m, "app"), "appId"); !slices.Equal(ids, want) || totalSize(t, m) != len(o.Apps) {
				t.Fatalf("status=%s keyStatus=%s: %d apps, totalSize %s; want the %d filtered apps and totalSize %d", st, ks, len(ids), m["totalSize"], len(want), len(o.Apps))
			}
		}
	}
}
