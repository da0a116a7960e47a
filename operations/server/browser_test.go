package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// browserRequest sends what a browser sends for a fetch from a page: the
// headers given (Origin, Sec-Fetch-*, Content-Type, Host) and nothing else.
func (h *harness) browserRequest(t *testing.T, method, path, body string, headers map[string]string) reply {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b, resp.Close}
}

const exportBody = `{"destination":"gs://evil-bucket/loot","includeSecrets":true}`

// TestBrowserCrossSiteRefused: on the local default (no authentication),
// what a page of another site can make a browser send without a preflight
// starts nothing, and neither does any part of it alone.
func TestBrowserCrossSiteRefused(t *testing.T) {
	h := start(t, NoAuth())
	cases := []struct {
		name    string
		headers map[string]string
		hs      int
		st      string
	}{
		{"no-cors fetch from another site", map[string]string{
			"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://evil.example",
			"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty",
		}, http.StatusForbidden, "PERMISSION_DENIED"},
		{"old browser: Origin only", map[string]string{
			"Content-Type": "text/plain", "Origin": "https://evil.example",
		}, http.StatusForbidden, "PERMISSION_DENIED"},
		{"Sec-Fetch-Site only", map[string]string{
			"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site",
		}, http.StatusForbidden, "PERMISSION_DENIED"},
		{"another port of localhost (same-site)", map[string]string{
			"Content-Type": "application/json", "Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site",
		}, http.StatusForbidden, "PERMISSION_DENIED"},
		{"sandboxed page", map[string]string{
			"Content-Type": "application/json", "Origin": "null",
		}, http.StatusForbidden, "PERMISSION_DENIED"},
		{"form post", map[string]string{
			"Content-Type": "application/x-www-form-urlencoded",
		}, http.StatusUnsupportedMediaType, "INVALID_ARGUMENT"},
		{"text/plain without Origin", map[string]string{
			"Content-Type": "text/plain",
		}, http.StatusUnsupportedMediaType, "INVALID_ARGUMENT"},
		{"body without Content-Type", map[string]string{}, http.StatusUnsupportedMediaType, "INVALID_ARGUMENT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.browserRequest(t, "POST", "/v1/organizations/acme/apps:export", exportBody, c.headers)
			e := r.wantError(t, c.hs, c.st)
			if c.hs == http.StatusUnsupportedMediaType && !strings.Contains(e.Error.Message, "application/json") {
				t.Errorf("message %q does not say to send application/json", e.Error.Message)
			}
			if !r.closed {
				t.Errorf("refusal without Connection: close")
			}
		})
	}
	// A cross-site cancel (empty body) is refused too.
	name := h.ops.add("acme", "apps")
	h.browserRequest(t, "POST", "/v1/"+name+":cancel", "", map[string]string{
		"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site",
	}).wantError(t, http.StatusForbidden, "PERMISSION_DENIED")
	for _, c := range h.ops.Calls() {
		if strings.HasPrefix(c, "Start") || strings.HasPrefix(c, "Cancel") {
			t.Errorf("a refused request reached the manager: %s", c)
		}
	}
}

// TestBrowserRebindingHostRefused: without authentication, a Host other
// than the listening address (a DNS name rebound to 127.0.0.1) is refused,
// so a page cannot read operations; loopback names with the port pass, and
// so do names the operator allows. With authentication Host is not checked
// (a page cannot send the credentials).
func TestBrowserRebindingHostRefused(t *testing.T) {
	h := start(t, NoAuth(), func(o *Options) { o.AllowedHosts = []string{"pubexport.internal:8443"} })
	_, port, _ := strings.Cut(h.addr, ":")
	h.ops.add("acme", "apps")
	for _, host := range []string{"rebind.evil.example:" + port, "rebind.evil.example", "localhost:1", "127.0.0.1:" + port + "0"} {
		r := h.browserRequest(t, "GET", "/v1/organizations/acme/operations", "", map[string]string{"Host": host})
		e := r.wantError(t, http.StatusForbidden, "PERMISSION_DENIED")
		if !strings.Contains(e.Error.Message, "allowed hosts") {
			t.Errorf("Host %s: message %q does not name the way out", host, e.Error.Message)
		}
		if strings.Contains(string(r.body), "operations/op-") {
			t.Errorf("Host %s: answer leaks operations: %s", host, r.body)
		}
	}
	for _, host := range []string{h.addr, "localhost:" + port, "LOCALHOST:" + port, "console.localhost:" + port, "127.0.0.2:" + port, "pubexport.internal:8443"} {
		r := h.browserRequest(t, "GET", "/v1/organizations/acme/operations", "", map[string]string{"Host": host})
		if r.status != http.StatusOK {
			t.Errorf("Host %s: HTTP %d %s, want 200", host, r.status, r.body)
		}
	}

	ht := start(t, tokenAuth(t))
	r := ht.browserRequest(t, "GET", "/v1/organizations/acme/operations", "", map[string]string{
		"Host": "api.example.com", "Authorization": "Bearer " + acmeToken,
	})
	r.want200(t)
}

// TestBrowserSameOriginAllowed: a page served by this server (the console)
// calls the API with fetch and JSON; its requests pass in every auth mode.
func TestBrowserSameOriginAllowed(t *testing.T) {
	for _, auth := range []string{"none", "tokens"} {
		t.Run(auth, func(t *testing.T) {
			var h *harness
			headers := map[string]string{"Content-Type": "application/json; charset=utf-8", "Sec-Fetch-Mode": "cors"}
			if auth == "none" {
				h = start(t, NoAuth())
			} else {
				h = start(t, tokenAuth(t))
				headers["Authorization"] = "Bearer " + acmeToken
			}
			headers["Origin"] = h.url
			for _, site := range []string{"same-origin", "none", ""} {
				headers["Sec-Fetch-Site"] = site
				r := h.browserRequest(t, "POST", "/v1/organizations/acme/apps:export", `{"destination":"gs://acme/x"}`, headers)
				r.want200(t)
			}
			// GET from the same origin: no Origin header, Sec-Fetch-Site same-origin.
			delete(headers, "Origin")
			delete(headers, "Content-Type")
			headers["Sec-Fetch-Site"] = "same-origin"
			h.browserRequest(t, "GET", "/v1/organizations/acme/operations", "", headers).want200(t)
			// Behind a proxy that terminates TLS the origin is https.
			headers["Origin"] = "https://" + h.addr
			headers["Content-Type"] = "application/json"
			h.browserRequest(t, "POST", "/v1/organizations/acme/apps:export", `{"destination":"gs://acme/x"}`, headers).want200(t)
			if got := len(h.ops.started); got != 4 {
				t.Errorf("%d exports started, want 4", got)
			}
		})
	}
}
