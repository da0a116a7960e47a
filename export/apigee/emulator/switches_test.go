package emulator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestThrottle: every request of the throttled span gets 429 with
// Retry-After, in Google's shape; afterwards requests are served.
func TestThrottle(t *testing.T) {
	s := start(t, Generate(GenerateSpec{Developers: 3, Seed: 1}), Options{Throttle: 300 * time.Millisecond})
	u := orgURL(s, "acme") + "/developers"
	for range 3 {
		r := get(t, u)
		r.googleError(t, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED")
		if r.header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	time.Sleep(350 * time.Millisecond)
	get(t, u).ok(t)
}

// TestHangAndDrip: a hanging server answers nothing until the client gives
// up; a dripping one sends headers at once and the body byte by byte.
func TestHangAndDrip(t *testing.T) {
	s := start(t, Generate(GenerateSpec{Developers: 3, Seed: 1}), Options{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, orgURL(s, "acme")+"/developers", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("a hanging server answered HTTP %d", res.StatusCode)
	}

	s = start(t, Generate(GenerateSpec{Developers: 3, Seed: 1}), Options{Drip: 5 * time.Millisecond})
	began := time.Now()
	r := get(t, orgURL(s, "acme")+"/developers?includeCompany=true")
	keys := keysOf(t, items(t, r.ok(t), "developer"), "email")
	if len(keys) != 3 {
		t.Fatalf("%d developers", len(keys))
	}
	if took, least := time.Since(began), time.Duration(len(r.body)-1)*5*time.Millisecond; took < least {
		t.Fatalf("%d bytes in %v: not dripped (at least %v)", len(r.body), took, least)
	}
}

// TestDeveloperExpandModes: each reading of "expand is not valid with count
// or startKey".
func TestDeveloperExpandModes(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 5, Seed: 2})
	k := d.Orgs[0].Developers[1].GetEmail()
	queries := []string{"expand=true", "expand=true&count=3", "expand=true&startKey=" + k, "expand=true&count=3&startKey=" + k}
	for _, c := range []struct {
		mode ExpandMode
		want []string // per query: "full", "keys" or "400"
	}{
		{ExpandHonoured, []string{"full", "full", "full", "full"}},
		{ExpandIgnoredWithCount, []string{"full", "keys", "full", "keys"}},
		{ExpandIgnoredWithStartKey, []string{"full", "keys", "keys", "keys"}},
		{ExpandRejected, []string{"full", "400", "400", "400"}},
	} {
		s := start(t, d, Options{DeveloperExpand: c.mode})
		for i, q := range queries {
			r := get(t, orgURL(s, "acme")+"/developers?includeCompany=true&"+q)
			got := "400"
			if r.code == http.StatusOK {
				got = "full"
				list := items(t, r.obj(t), "developer")
				var m map[string]any
				decodeJSON(t, list[0], &m)
				if len(m) == 1 {
					got = "keys"
				}
			}
			if got != c.want[i] {
				t.Errorf("%v, %s: %s, want %s", c.mode, q, got, c.want[i])
			}
		}
	}
	if _, err := ParseExpandMode("ignored-with-count"); err != nil {
		t.Error(err)
	}
	if _, err := ParseExpandMode("sometimes"); err == nil {
		t.Error("an unknown mode parsed")
	}
}

// TestStartKeyNeedsCount: a developers startKey without count is ignored
// (the page starts at the list's beginning); with count it is honoured.
func TestStartKeyNeedsCount(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 5, Seed: 2})
	devs := d.Orgs[0].Developers
	k := devs[2].GetEmail()
	s := start(t, d, Options{StartKeyNeedsCount: true})
	for _, c := range []struct {
		query string
		first string
	}{
		{"expand=true&startKey=" + k, devs[0].GetEmail()},
		{"expand=false&count=2&startKey=" + k, k},
		{"expand=true&count=2&startKey=" + k, k},
	} {
		list := items(t, get(t, orgURL(s, "acme")+"/developers?includeCompany=true&"+c.query).ok(t), "developer")
		var m map[string]any
		decodeJSON(t, list[0], &m)
		if m["email"] != c.first {
			t.Errorf("%s: first developer %v, want %s", c.query, m["email"], c.first)
		}
	}
}

// TestDeny: a denied permission makes the methods that need it answer 403
// naming it, even for an organization that does not exist (IAM comes
// first), and leaves the others alone.
func TestDeny(t *testing.T) {
	s := start(t, Generate(GenerateSpec{Developers: 3, APIProducts: 3, Seed: 1}), Options{Deny: []string{"apigee.organizations.get"}})
	for _, org := range []string{"acme", "nope"} {
		msg := get(t, orgURL(s, org)).googleError(t, http.StatusForbidden, "PERMISSION_DENIED")
		if !strings.Contains(msg, "apigee.organizations.get") {
			t.Fatalf("403 message %q does not name the permission", msg)
		}
	}
	get(t, orgURL(s, "acme")+"/developers").ok(t)
	get(t, orgURL(s, "acme")+"/apiproducts").ok(t)
	get(t, orgURL(s, "nope")+"/developers").googleError(t, http.StatusNotFound, "NOT_FOUND")

	if _, err := Start(nil, Options{Deny: []string{"apigee.organisations.get"}}); err == nil || !strings.Contains(err.Error(), "apigee.organisations.get") {
		t.Fatalf("a misspelt permission: %v, want an error naming it", err)
	}

	s = start(t, Generate(GenerateSpec{Developers: 3, Seed: 1}), Options{Deny: []string{"apigee.developers.list"}})
	get(t, orgURL(s, "acme")).ok(t)
	if msg := get(t, orgURL(s, "acme")+"/developers").googleError(t, http.StatusForbidden, "PERMISSION_DENIED"); !strings.Contains(msg, "apigee.developers.list") {
		t.Fatalf("403 message %q does not name the permission", msg)
	}
}

// TestPermissionsNameRoutes: every route that Deny knows is one the
// emulator serves, so that a typo there cannot silently deny nothing.
func TestPermissionsNameRoutes(t *testing.T) {
	h, err := newHandler(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for route := range permissions {
		method, path, _ := strings.Cut(route, " ")
		req := httptest.NewRequest(method, strings.NewReplacer("{", "", "}", "").Replace(path), nil)
		if _, pattern := h.mux.Handler(req); method+" "+pattern != route {
			t.Errorf("%s is served by route %q", route, pattern)
		}
	}
}
