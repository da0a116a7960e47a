package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc/codes"

	"pubexport/operations/server"
)

// signIn signs in through the console's dialog.
func signIn(t *testing.T, ctx context.Context, e *env, token string) {
	t.Helper()
	do(t, ctx, "open the console",
		chromedp.Navigate(e.url+"/"),
		chromedp.WaitVisible(chromedp.ID("token")))
	shot(t, ctx, "01-sign-in")
	do(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")))
	waitFor(t, ctx, "the session", `document.querySelector('#who').textContent.startsWith('Signed in as')`)
}

// startExport opens resource's tab, fills the dialog and submits it.
func startExport(t *testing.T, ctx context.Context, e *env, resource, format string, submit chromedp.Action[chromedp.Void], shotName string) {
	t.Helper()
	do(t, ctx, "open the "+resource+" dialog",
		chromedp.Click(chromedp.ID("tab-"+resource)),
		chromedp.Click(chromedp.CSS("#tabpanel-"+resource+" button.export")),
		chromedp.WaitVisible(chromedp.ID("export-dialog")))
	if got := eval[string](t, ctx, `document.querySelector('#destination').value`); got != "file://"+e.dest {
		t.Errorf("destination pre-filled with %q, want file://%s", got, e.dest)
	}
	do(t, ctx, "choose "+format, setSelect("#format", format))
	if shotName != "" {
		shot(t, ctx, shotName)
	}
	do(t, ctx, "submit", submit)
	waitFor(t, ctx, "the dialog to close", `!document.querySelector('#export-dialog').open`)
}

// panelItems is the JavaScript list of the notification panel's operations.
const panelItems = `Array.from(document.querySelectorAll('#panel-list li.op'))`

// TestBrowserExportWatchDownload exports each resource through the dialog
// (signed in with a token), sees them succeed in the notification panel,
// downloads every object and manifest through its link and checks the
// bytes against the SHA-256 in their names. A double click starts one
// export; the bell counts what finished while the panel was closed; an
// app named as markup is exported as text and never rendered.
func TestBrowserExportWatchDownload(t *testing.T) {
	e := startEnv(t, tokenAuth(t))
	ctx := tab(t)
	dl := newDownloader(t, ctx)
	signIn(t, ctx, e, acmeToken)
	waitFor(t, ctx, "organization acme", `document.querySelector('#org').value === 'acme'`)

	// Developers: a double click on the submit button.
	startExport(t, ctx, e, "developers", "json", chromedp.DoubleClick(chromedp.ID("export-submit")), "")
	waitFor(t, ctx, "the panel to open", `!document.querySelector('#panel').hidden`)
	waitFor(t, ctx, "the developers export to succeed", panelItems+`.filter(li => li.dataset.state === 'SUCCEEDED').length === 1`)

	// Apps as CSV.
	startExport(t, ctx, e, "apps", "csv", chromedp.Click(chromedp.ID("export-submit")), "02-export-dialog")
	waitFor(t, ctx, "the apps export to succeed", panelItems+`.filter(li => li.dataset.state === 'SUCCEEDED').length === 2`)
	shot(t, ctx, "03-notifications")

	// API products as Parquet, with the panel closed: the bell counts it.
	do(t, ctx, "close the panel", chromedp.Click(chromedp.ID("panel-close")))
	startExport(t, ctx, e, "apiproducts", "parquet", chromedp.Click(chromedp.ID("export-submit")), "")
	do(t, ctx, "close the panel again", chromedp.Click(chromedp.ID("panel-close")))
	waitFor(t, ctx, "the bell to count one finished export", `document.querySelector('#bell-count').textContent === '1' && !document.querySelector('#bell-count').hidden`)
	if label := eval[string](t, ctx, `document.querySelector('#bell-label').textContent`); !strings.Contains(label, "1 finished") {
		t.Errorf("bell label %q", label)
	}
	shot(t, ctx, "04-bell")
	do(t, ctx, "open the panel", chromedp.Click(chromedp.ID("bell")))
	waitFor(t, ctx, "the count to clear", `document.querySelector('#bell-count').hidden`)
	waitFor(t, ctx, "three exports", panelItems+`.filter(li => li.dataset.state === 'SUCCEEDED').length === 3`)

	ops, _, err := e.m.List(t.Context(), "organizations/acme", "", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 {
		t.Fatalf("%d operations after three exports (one double-clicked), want 3", len(ops))
	}

	// Every Download link and manifest link gives the object's bytes.
	links := eval[int](t, ctx, `document.querySelectorAll('#panel-list a.download').length`)
	if links != 6 {
		t.Fatalf("%d download links in the panel, want 3 objects and 3 manifests", links)
	}
	var csv string
	for i := range links {
		eval[bool](t, ctx, fmt.Sprintf(`(document.querySelectorAll('#panel-list a.download')[%d].click(), true)`, i))
		got := dl.wait(t)
		b := checkHash(t, got)
		if strings.HasSuffix(got.name, ".csv") {
			csv = string(b)
		}
	}
	if !strings.Contains(csv, evil) {
		t.Errorf("the apps CSV does not hold the app named %s as text:\n%s", evil, csv)
	}
	if n := eval[int](t, ctx, `document.images.length`); n != 1 {
		t.Errorf("%d images on the page, want 1 (the logo): markup from Apigee was rendered", n)
	}
}

// TestBrowserProgressAndCancel starts a slow export (a larger organization,
// emulator latency on every page), watches its record count rise in the
// notification panel, cancels it there and sees it end CANCELLED.
func TestBrowserProgressAndCancel(t *testing.T) {
	t.Parallel()
	e := startEnv(t, server.NoAuth())
	ctx := tab(t)
	do(t, ctx, "open the console", chromedp.Navigate(e.url+"/"))
	waitFor(t, ctx, "the organizations", `Array.from(document.querySelectorAll('#org option')).some(o => o.value === 'bigco')`)
	do(t, ctx, "choose bigco", setSelect("#org", "bigco"))
	waitFor(t, ctx, "bigco", `document.querySelector('.orgname').textContent === 'bigco'`)
	startExport(t, ctx, e, "developers", "ndjson", chromedp.Click(chromedp.ID("export-submit")), "")

	var seen []int
	deadline := time.Now().Add(25 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		state := eval[string](t, ctx, panelItems+`.map(li => li.dataset.state + ':' + li.dataset.records).join()`)
		st, recs, _ := strings.Cut(state, ":")
		if st != "" && st != "RUNNING" && st != "NOT_STARTED" {
			t.Fatalf("export %s before it could be watched", state)
		}
		if n, _ := strconv.Atoi(recs); n > 0 && (len(seen) == 0 || n > seen[len(seen)-1]) {
			seen = append(seen, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(seen) < 2 {
		t.Fatalf("progress did not rise in the panel: %v", seen)
	}
	t.Logf("records seen in the panel: %v", seen)
	if txt := eval[string](t, ctx, `document.querySelector('#panel-list li.op .numbers').textContent`); !strings.Contains(txt, "records") || !strings.Contains(txt, "pages") {
		t.Errorf("progress line %q", txt)
	}
	shot(t, ctx, "05-progress")
	do(t, ctx, "cancel", chromedp.Click(chromedp.CSS("#panel-list li.op button.cancel")))
	waitFor(t, ctx, "CANCELLED", panelItems+`[0].dataset.state === 'CANCELLED'`)
	shot(t, ctx, "06-cancelled")

	ops, _, err := e.m.List(t.Context(), "organizations/bigco", "", 0, "")
	if err != nil || len(ops) != 1 {
		t.Fatalf("operations: %v, %v", ops, err)
	}
	if c := codes.Code(ops[0].GetError().GetCode()); !ops[0].GetDone() || c != codes.Canceled {
		t.Errorf("operation ended done=%v code %v, want CANCELLED", ops[0].GetDone(), c)
	}
	if n, err := strconv.Atoi(eval[string](t, ctx, panelItems+`[0].dataset.records`)); err != nil || n >= 5000 {
		t.Errorf("the cancelled export shows %d records (of 5000): it was not stopped early", n)
	}
}

// TestBrowserNoGrant: a caller whose token grants another organization
// sees nothing of acme in the console, and the console's own endpoints
// refuse acme's operations to it as the API does.
func TestBrowserNoGrant(t *testing.T) {
	t.Parallel()
	e := startEnv(t, tokenAuth(t))
	name := exportDone(t, e, "acme", "apps")
	ctx := tab(t)

	// A wrong token is refused, in words.
	do(t, ctx, "open the console", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	do(t, ctx, "sign in with a wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "not-a-token-0123456789"),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")))
	waitFor(t, ctx, "the refusal", `document.querySelector('#signin-error').textContent.includes('invalid bearer token')`)
	do(t, ctx, "sign in as globex",
		chromedp.SendKeys(chromedp.ID("token"), globexToken),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")))
	waitFor(t, ctx, "the session", `document.querySelector('#who').textContent.startsWith('Signed in as')`)
	orgs := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#org option')).map(o => o.value)`)
	if len(orgs) != 1 || orgs[0] != "globex" {
		t.Errorf("organizations offered to globex's token: %q", orgs)
	}
	do(t, ctx, "open the panel", chromedp.Click(chromedp.ID("bell")))
	waitFor(t, ctx, "an empty panel", `document.querySelector('#panel-list li.empty') !== null`)
	do(t, ctx, "operations page", chromedp.Navigate(e.url+"/operations"))
	waitFor(t, ctx, "an empty operations page", `document.querySelector('#ops li.empty') !== null`)
	if body := eval[string](t, ctx, `document.body.innerText`); strings.Contains(body, idOf(name)) {
		t.Errorf("globex's page shows acme's operation %s", name)
	}
	shot(t, ctx, "07-no-grant")

	// The console endpoints answer as the API does: not found for globex,
	// the object for acme.
	op, err := e.m.Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	obj := objectsOf(t, op)[0]
	dl := e.url + "/v1/console/download?" + url.Values{"operation": {name}, "object": {obj.GetName()}}.Encode()
	details := e.url + "/v1/console/details?" + url.Values{"operation": {name}}.Encode()
	for _, c := range []struct {
		url, token string
		want       int
	}{
		{dl, globexToken, http.StatusNotFound},
		{details, globexToken, http.StatusNotFound},
		{dl, "", http.StatusUnauthorized},
		{e.url + "/v1/console/session", "", http.StatusUnauthorized},
		{dl, acmeToken, http.StatusOK},
		{details, acmeToken, http.StatusOK},
	} {
		if res := get(t, c.url, c.token); res.StatusCode != c.want {
			t.Errorf("GET %s with token %.6q: %s, want %d", c.url, c.token, res.Status, c.want)
		}
	}
}

func idOf(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }
