package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"pubexport/operations/console"
	"pubexport/operations/operationspb"
	"pubexport/operations/server"
)

// opsItems is the JavaScript list of the operations page's items.
const opsItems = `Array.from(document.querySelectorAll('#ops li.op'))`

// TestBrowserOperationsPage lists an organization's operations newest
// first, pages through them with the REST list's tokens, filters them by
// resource and by state, shows an operation's details (format,
// destination, objects with sizes and hashes) and downloads an object
// through a plain link (no authentication: the browser streams it).
func TestBrowserOperationsPage(t *testing.T) {
	e := startEnv(t, server.NoAuth())
	dl := exportDone(t, e, "acme", "developers")
	apps := exportDone(t, e, "acme", "apps")
	cancelled, err := e.m.Start(t.Context(), &operationspb.ExportRequest{
		Parent: "organizations/acme", Resource: "apiproducts", Destination: "file://" + e.dest, ApigeeUrl: e.emu.URL, Format: "csv",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.Cancel(t.Context(), cancelled.GetName()); err != nil {
		t.Fatal(err)
	}
	if op, err := e.m.Wait(t.Context(), cancelled.GetName(), 10*time.Second); err != nil || !op.GetDone() {
		t.Fatalf("cancelled export: %v %v", op, err)
	}
	// Newest first: the cancelled one, apps, developers.
	want := []string{cancelled.GetName(), apps, dl}

	ctx := tab(t)
	downloads := newDownloader(t, ctx)
	do(t, ctx, "open the operations page", chromedp.Navigate(e.url+"/operations?pageSize=2"))
	waitFor(t, ctx, "page 1", opsItems+`.length === 2 && !document.querySelector('#page-next').disabled`)
	if got := eval[[]string](t, ctx, opsItems+`.map(li => li.dataset.name)`); strings.Join(got, " ") != strings.Join(want[:2], " ") {
		t.Errorf("page 1: %q, want %q", got, want[:2])
	}
	do(t, ctx, "next page", chromedp.Click(chromedp.ID("page-next")))
	waitFor(t, ctx, "page 2", opsItems+`.length === 1 && document.querySelector('#page-next').disabled && !document.querySelector('#page-first').disabled`)
	if got := eval[[]string](t, ctx, opsItems+`.map(li => li.dataset.name)`); len(got) != 1 || got[0] != want[2] {
		t.Errorf("page 2: %q, want %q", got, want[2:])
	}
	do(t, ctx, "first page", chromedp.Click(chromedp.ID("page-first")))
	waitFor(t, ctx, "page 1 again", opsItems+`.length === 2 && document.querySelector('#page-first').disabled`)

	do(t, ctx, "filter cancelled", setSelect(`#filters select[name=state]`, "error.code=1"), chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)))
	waitFor(t, ctx, "the cancelled export alone", opsItems+`.length === 1 && `+opsItems+`[0].dataset.state === 'CANCELLED'`)
	do(t, ctx, "filter apps", setSelect(`#filters select[name=state]`, ""), setSelect(`#filters select[name=resource]`, "apps"),
		chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)))
	waitFor(t, ctx, "the apps export alone", opsItems+`.length === 1 && `+opsItems+`[0].dataset.name === '`+apps+`'`)

	do(t, ctx, "open the details", chromedp.Click(chromedp.CSS("#ops li.op details summary")))
	waitFor(t, ctx, "the objects table", `document.querySelector('#ops table.objects') !== null`)
	shot(t, ctx, "09-operation-details")
	facts := eval[string](t, ctx, `document.querySelector('#ops dl.facts').textContent`)
	for _, w := range []string{"Formatjson", "Destinationfile://" + e.dest, "organizations/acme/apps", "Records21 in"} {
		if !strings.Contains(facts, w) {
			t.Errorf("details lack %q:\n%s", w, facts)
		}
	}
	op, err := e.m.Get(t.Context(), apps)
	if err != nil {
		t.Fatal(err)
	}
	table := eval[string](t, ctx, `document.querySelector('#ops table.objects').textContent`)
	for _, o := range objectsOf(t, op) {
		if !strings.Contains(table, o.GetSha256()) || !strings.Contains(table, o.GetUri()) {
			t.Errorf("objects table lacks %s (%s):\n%s", o.GetUri(), o.GetSha256(), table)
		}
	}
	do(t, ctx, "download", chromedp.Click(chromedp.CSS("#ops table.objects a.download:not(.manifest)")))
	checkHash(t, downloads.wait(t))
}

// TestBrowserKeyboardAndPhone: the tabs, the dialog and the panel work
// from the keyboard; every form control has a label; at a phone's width
// nothing is wider than the screen.
func TestBrowserKeyboardAndPhone(t *testing.T) {
	t.Parallel()
	e := startEnv(t, server.NoAuth())
	exportDone(t, e, "acme", "apps")
	ctx := tab(t)
	do(t, ctx, "open the console", chromedp.Navigate(e.url+"/"))
	waitFor(t, ctx, "the session", `document.querySelector('#who').textContent.startsWith('Signed in as')`)

	do(t, ctx, "arrow to the Apps tab", chromedp.Focus(chromedp.ID("tab-developers")), chromedp.KeyEvent(kb.ArrowRight))
	waitFor(t, ctx, "Apps selected and focused", `document.activeElement.id === 'tab-apps' && document.activeElement.getAttribute('aria-selected') === 'true' && !document.querySelector('#tabpanel-apps').hidden`)
	do(t, ctx, "Enter on Export", chromedp.Focus(chromedp.CSS("#tabpanel-apps button.export")), chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, "the dialog, focus in the destination", `document.querySelector('#export-dialog').open && document.activeElement.id === 'destination'`)
	do(t, ctx, "Escape", chromedp.KeyEvent(kb.Escape))
	waitFor(t, ctx, "the dialog closed", `!document.querySelector('#export-dialog').open`)
	do(t, ctx, "Enter on the bell", chromedp.Focus(chromedp.ID("bell")), chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, "the panel open", `!document.querySelector('#panel').hidden && document.querySelector('#bell').getAttribute('aria-expanded') === 'true'`)
	do(t, ctx, "Escape", chromedp.KeyEvent(kb.Escape))
	waitFor(t, ctx, "the panel closed, focus on the bell", `document.querySelector('#panel').hidden && document.activeElement.id === 'bell'`)

	unlabelled := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('input, select, button, progress')).filter(e =>
		!(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()).map(e => e.outerHTML)`)
	if len(unlabelled) > 0 {
		t.Errorf("controls without a label: %q", unlabelled)
	}

	do(t, ctx, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload())
	waitFor(t, ctx, "the recent apps export", `document.querySelector('#tabpanel-developers') !== null && document.querySelector('#who').textContent !== ''`)
	do(t, ctx, "open the panel", chromedp.Click(chromedp.ID("bell")))
	waitFor(t, ctx, "the panel", `document.querySelector('#panel-list li.op') !== null`)
	shot(t, ctx, "10-phone")
	if w := eval[[]int](t, ctx, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("at 390 px the page is %d px wide: it does not fit a phone", w[0])
	}
}

// TestBrowserTypedOrganization: a caller granted every organization, on a
// server that names none, types the organization's name.
func TestBrowserTypedOrganization(t *testing.T) {
	t.Parallel()
	e := startEnv(t, server.NoAuth(), func(o *console.Options) { o.Organizations = nil })
	exportDone(t, e, "bigco", "apiproducts")
	ctx := tab(t)
	do(t, ctx, "open the console", chromedp.Navigate(e.url+"/"))
	waitFor(t, ctx, "the name field", `!document.querySelector('#org-other').hidden`)
	do(t, ctx, "type bigco", chromedp.SendKeys(chromedp.ID("org-other"), "bigco\t"))
	waitFor(t, ctx, "bigco's export", `document.querySelector('.orgname').textContent === 'bigco' && document.querySelectorAll('#panel-list li.op').length === 1`)

	// A refused trigger is explained in the dialog, which stays open.
	do(t, ctx, "open the dialog", chromedp.Click(chromedp.CSS("#tabpanel-developers button.export")), chromedp.WaitVisible(chromedp.ID("export-dialog")))
	do(t, ctx, "a bad destination", chromedp.SetValue(chromedp.ID("destination"), "ftp://example.com/x"), chromedp.Click(chromedp.ID("export-submit")))
	waitFor(t, ctx, "the error", `!document.querySelector('#export-error').hidden && document.querySelector('#export-dialog').open`)
	if msg := eval[string](t, ctx, `document.querySelector('#export-error').textContent`); !strings.HasPrefix(msg, "destination:") || !strings.Contains(msg, "INVALID_ARGUMENT") {
		t.Errorf("error shown: %q", msg)
	}
	shot(t, ctx, "11-refused")
}
