package emulator

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
)

// appsPage asks for one apps page and returns its appIds and next token.
func appsPage(t *testing.T, s *Server, q string) (ids []string, next string) {
	t.Helper()
	m := get(t, orgURL(s, "acme")+"/apps?"+q).ok(t)
	if raw, ok := m["nextPageToken"]; ok {
		next = str(t, raw)
	}
	return keysOf(t, items(t, m, "app"), "appId"), next
}

// TestAppsIndexTokensShift: with index tokens (the default, as the
// reference describes pageToken) an app deleted or revoked before the
// token's index shifts the next page by one, so the app that was first on
// it is on no page; with stable tokens nothing shifts.
func TestAppsIndexTokensShift(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 20, Apps: 300, Seed: 31})
	want := appIDs(d.Orgs[0], "approved")
	for _, c := range []struct {
		mode   AppsPaging
		change func(s *Server, id string) error
		skip   bool // the next page starts one app late
	}{
		{AppsIndexTokens, func(s *Server, id string) error { return s.DeleteApp("acme", id) }, true},
		{AppsIndexTokens, func(s *Server, id string) error { return s.SetAppStatus("acme", id, "revoked") }, true},
		{AppsEncodedIndexTokens, func(s *Server, id string) error { return s.DeleteApp("acme", id) }, true},
		{AppsEncodedIndexTokens, func(s *Server, id string) error { return s.SetAppStatus("acme", id, "revoked") }, true},
		{AppsStableTokens, func(s *Server, id string) error { return s.DeleteApp("acme", id) }, false},
		{AppsStableTokens, func(s *Server, id string) error { return s.SetAppStatus("acme", id, "revoked") }, false},
	} {
		s := start(t, d, Options{AppsPaging: c.mode})
		first, tok := appsPage(t, s, "pageSize=10")
		if !slices.Equal(first, want[:10]) || tok == "" {
			t.Fatalf("%v: first page %v (token %q), want the first 10 approved apps", c.mode, first, tok)
		}
		if err := c.change(s, want[3]); err != nil {
			t.Fatal(err)
		}
		second, _ := appsPage(t, s, "pageSize=10&pageToken="+url.QueryEscape(tok))
		at := 10
		if c.skip {
			at = 11
		}
		if !slices.Equal(second, want[at:at+10]) {
			t.Errorf("%v: after a change before the token the next page starts with %s, want %s (app %d)", c.mode, second[0], want[at], at)
		}
		// Either way a listing from its start sees the change.
		all, _ := appsPage(t, s, "pageSize=1000")
		if slices.Contains(all, want[3]) || len(all) != len(want)-1 {
			t.Errorf("%v: the changed app is still listed as approved", c.mode)
		}
	}
	// An index token follows the list as it is: paged to its end with
	// nothing changed, every app once, in order, in either form.
	for _, mode := range []AppsPaging{AppsIndexTokens, AppsEncodedIndexTokens} {
		s := start(t, d, Options{AppsPaging: mode})
		var got []string
		for tok, pages := "", 0; pages == 0 || tok != ""; pages++ {
			q := "pageSize=7"
			if tok != "" {
				q += "&pageToken=" + url.QueryEscape(tok)
			}
			var ids []string
			ids, tok = appsPage(t, s, q)
			got = append(got, ids...)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%v: %d apps by index tokens, want the %d approved in order", mode, len(got), len(want))
		}
		// startKey with pageSize gives a token from the startKey's index on.
		ids, tok := appsPage(t, s, "pageSize=5&startKey="+want[20])
		next, _ := appsPage(t, s, "pageSize=5&pageToken="+url.QueryEscape(tok))
		if !slices.Equal(ids, want[20:25]) || !slices.Equal(next, want[25:30]) {
			t.Fatalf("%v: startKey %s with pageSize: %v then %v", mode, want[20], ids, next)
		}
		if mode == AppsIndexTokens && tok != "25" {
			t.Fatalf("startKey %s (app 20) with pageSize=5: token %q, want \"25\"", want[20], tok)
		}
	}
}

// TestAppsPre110: an organization older than 1.10 ignores pageSize and
// pageToken, never sends nextPageToken, and pages with rows (default and
// cap 1000) and an inclusive startKey; a startKey no app has is 404.
func TestAppsPre110(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 20, Apps: 1600, Seed: 32})
	want := appIDs(d.Orgs[0], "approved")
	if len(want) <= 1000 {
		t.Fatalf("%d approved apps generated, want more than 1000", len(want))
	}
	s := start(t, d, Options{AppsPaging: AppsPre110})
	ids, tok := appsPage(t, s, "pageSize=10")
	if len(ids) != 1000 || tok != "" || !slices.Equal(ids, want[:1000]) {
		t.Fatalf("pageSize=10: %d apps, token %q; want the first 1000 and no token", len(ids), tok)
	}
	ids, tok = appsPage(t, s, "pageSize=10&rows=5&startKey="+want[999])
	if !slices.Equal(ids, want[999:1004]) || tok != "" {
		t.Fatalf("rows=5&startKey: %v (token %q), want 5 apps from the startKey", ids, tok)
	}
	ids, _ = appsPage(t, s, "rows=5000&startKey="+want[999])
	if !slices.Equal(ids, want[999:]) {
		t.Fatalf("rows=5000 from app 999: %d apps, want the %d left", len(ids), len(want)-999)
	}
	get(t, orgURL(s, "acme")+"/apps?rows=5&startKey=00000000-0000-4000-8000-000000000000").googleError(t, http.StatusNotFound, "NOT_FOUND")
	for _, name := range []string{"index", "encoded-index", "stable", "pre-1.10"} {
		if m, err := ParseAppsPaging(name); err != nil || m.String() != name {
			t.Errorf("%s: %v, %v", name, m, err)
		}
	}
	if _, err := ParseAppsPaging("cursor"); err == nil {
		t.Error("an unknown apps paging mode parsed")
	}
	if _, err := Start(d, Options{AppsPaging: 7}); err == nil {
		t.Error("an unknown apps paging mode started")
	}
}

// TestAppsIndexTokensCached: a client paging by index tokens in order
// finds every page's start in the cache, not by a scan from the table's
// start; a change to the apps empties it.
func TestAppsIndexTokensCached(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 20, Apps: 300, Seed: 33})
	s := start(t, d, Options{})
	o := s.h.orgs["acme"]
	f := filterKey{"approved", "approved"}
	tok, index := "", 0
	for pages := 0; pages == 0 || tok != ""; pages++ {
		q := "pageSize=20"
		if tok != "" {
			q += "&pageToken=" + url.QueryEscape(tok)
		}
		var ids []string
		ids, tok = appsPage(t, s, q)
		index += len(ids)
		o.mu.RLock()
		_, cached := o.idx.get(o.version, f, index)
		o.mu.RUnlock()
		if tok != "" && !cached {
			t.Fatalf("page %d: where index %d starts is not cached", pages+1, index)
		}
	}
	if err := s.DeleteApp("acme", d.Orgs[0].Apps[0].GetAppId()); err != nil {
		t.Fatal(err)
	}
	o.mu.RLock()
	_, cached := o.idx.get(o.version, f, 20)
	o.mu.RUnlock()
	if cached {
		t.Fatal("a position cached before a delete is still used after it")
	}
}

// TestAppsIndexTokensAnyOrder: pages asked for by plain index in any
// order, as a client reading ahead asks for them, are the slices of the
// list at those indices; one asked for after a page nearer the start
// was cached is found from that page on, not by a scan from the start.
func TestAppsIndexTokensAnyOrder(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 20, Apps: 300, Seed: 34})
	want := appIDs(d.Orgs[0], "approved")
	s := start(t, d, Options{})
	for _, at := range []int{120, 40, 160, 0, 80, 200} {
		ids, tok := appsPage(t, s, "pageSize=20&pageToken="+strconv.Itoa(at))
		end := min(at+20, len(want))
		if !slices.Equal(ids, want[at:end]) {
			t.Fatalf("pageToken=%d: %v, want apps %d to %d", at, ids, at, end-1)
		}
		if wantTok := strconv.Itoa(end); end < len(want) && tok != wantTok {
			t.Fatalf("pageToken=%d: next %q, want %q", at, tok, wantTok)
		}
	}
	o := s.h.orgs["acme"]
	o.mu.RLock()
	e, ok := o.idx.nearest(o.version, filterKey{"approved", "approved"}, 219)
	o.mu.RUnlock()
	if !ok || e.index != 200 {
		t.Fatalf("nearest cached index at or below 219: %+v (%v), want 200", e, ok)
	}
}
