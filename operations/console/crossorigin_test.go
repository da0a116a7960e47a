package console_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"pubexport/operations/server"
)

// TestBrowserCrossOrigin: a page of another site, open in the same
// browser, cannot start an export on the console's server (which runs
// without authentication here, the easiest case for an attacker), cannot
// read its API and cannot frame the console.
func TestBrowserCrossOrigin(t *testing.T) {
	t.Parallel()
	e := startEnv(t, server.NoAuth())
	body := fmt.Sprintf(`{"destination":"file://%s","apigeeUrl":"%s","requestId":"%s"}`, e.dest, e.emu.URL, uuid.NewString())
	target := e.url + "/v1/organizations/acme/apps:export"
	evilPage := fmt.Sprintf(`<!doctype html><title>evil</title>
<form id=f method=post enctype=text/plain action=%q target=sink><input name='{"destination":"file://%s","apigeeUrl":"%s","x":"' value='"}'></form>
<iframe name=sink></iframe><iframe id=frame src=%q></iframe>
<script>
(async () => {
  const out = [];
  try { await fetch(%q, {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: %q}); out.push('no-cors sent'); } catch (e) { out.push('no-cors refused'); }
  try { await fetch(%q, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: %q}); out.push('cors READ'); } catch (e) { out.push('cors refused'); }
  try { const r = await fetch(%q); await r.json(); out.push('session READ'); } catch (e) { out.push('session refused'); }
  document.getElementById('f').submit();
  setTimeout(() => { document.title = 'done ' + out.join(', '); }, 1000);
})();
</script>`, target, e.dest, e.emu.URL, e.url+"/", target, body, target, body, e.url+"/v1/console/session")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evilSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, evilPage)
	})}
	go evilSrv.Serve(l)
	t.Cleanup(func() { evilSrv.Close() })
	// localhost is another site than 127.0.0.1 (Sec-Fetch-Site: cross-site).
	_, port, _ := net.SplitHostPort(l.Addr().String())

	ctx := tab(t)
	do(t, ctx, "open the other site's page", chromedp.Navigate("http://localhost:"+port+"/"))
	waitFor(t, ctx, "the page's attempts", `document.title.startsWith('done')`)
	title := eval[string](t, ctx, `document.title`)
	t.Logf("cross-site page: %s", title)
	if strings.Contains(title, "READ") {
		t.Errorf("the other site read the API's answers: %s", title)
	}
	time.Sleep(500 * time.Millisecond) // let a request that got through finish
	ops, _, err := e.m.List(t.Context(), "organizations/acme", "", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 0 {
		t.Errorf("a page of another site started %d exports: %v", len(ops), ops[0].GetName())
	}
	// The console refuses to be framed (clickjacking).
	if res := get(t, e.url+"/", ""); res.Header.Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("the console can be framed: %v", res.Header)
	}
}
