package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/operations"
	"pubexport/operations/console"
	"pubexport/operations/operationspb"
	"pubexport/operations/server"
	"pubexport/operations/store"
)

// evil is the name of a sample app: markup that runs script if anything
// renders it as HTML.
const evil = `<img src=x onerror=alert(1)>`

// Tokens of the test token file.
const (
	acmeToken   = "acme-token-0123456789abcdef"
	globexToken = "globex-token-0123456789abcdef"
)

const tokenFile = `{"tokens": [
  {"token": "acme-token-0123456789abcdef", "organizations": ["acme"]},
  {"token": "globex-token-0123456789abcdef", "organizations": ["globex"]}
]}`

// env is a console served the way `pubexport serve --console` serves it:
// the API server with the console mounted, a real operations manager on a
// folder store, the Apigee emulator (the bundled sample organization
// "acme", one app named evil, and a larger generated "bigco" whose pages
// are slow), and a folder destination.
type env struct {
	url  string // http://127.0.0.1:PORT
	dest string // the destination folder
	st   store.Store
	m    *operations.Manager
	emu  *emulator.Server
}

func startEnv(t *testing.T, auth *server.Auth, tweak ...func(*console.Options)) *env {
	t.Helper()
	data := emulator.Sample()
	acme := data.Org("acme")
	app := proto.Clone(acme.Apps[0]).(*apigeepb.App)
	app.Name = proto.String(evil)
	app.AppId = proto.String("0badc0de-0000-4000-8000-000000000001")
	app.Credentials = nil
	acme.Apps = append(acme.Apps, app)
	data.Orgs = append(data.Orgs, bigco().Orgs...)
	emu := exporttest.Emulator(t, data, emulator.Options{Latency: 150 * time.Millisecond})

	st, err := store.Local(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	m, err := operations.New(t.Context(), operations.Config{
		Store:  st,
		Logger: log,
		// Pages of 100 records, so that the slow organization's export
		// takes some 50 pages and its progress can be watched.
		Open: func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
			c, err := apigee.NewClient(ctx, apigee.WithBaseURL(req.GetApigeeUrl()), apigee.WithoutAuthentication(), apigee.WithPageSize(100))
			if err != nil {
				return nil, nil, err
			}
			b, err := sink.Open(ctx, req.GetDestination())
			if err != nil {
				return nil, nil, err
			}
			return export.FromClient(c), b, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	copts := console.Options{
		Operations:          m,
		Records:             st,
		Organizations:       []string{"acme", "bigco"},
		DefaultDestination:  "file://" + dest,
		AllowedDestinations: []string{"file://" + dest},
		ApigeeURL:           emu.URL,
		CheckDestination: func(d string) error {
			if d != "file://"+dest {
				return errors.New("not the test folder")
			}
			return nil
		},
		Logger: log,
	}
	for _, f := range tweak {
		f(&copts)
	}
	c, err := console.New(copts)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(m, server.Options{Auth: auth, Logger: log, Pages: c.Pages(), Routes: c.Routes()})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
		m.Close()
	})
	return &env{url: "http://" + l.Addr().String(), dest: dest, st: st, m: m, emu: emu}
}

// bigco is the slow organization, generated once: servers copy their data.
var bigco = sync.OnceValue(func() *emulator.Data {
	return emulator.Generate(emulator.GenerateSpec{Org: "bigco", Developers: 5000, Seed: 1})
})

func tokenAuth(t *testing.T) *server.Auth {
	t.Helper()
	f, err := server.ParseTokenFile([]byte(tokenFile))
	if err != nil {
		t.Fatal(err)
	}
	a, err := server.TokenAuth(f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The browser: one headless Chromium for the package, a tab per test.
var chrome struct {
	once   sync.Once
	ctx    context.Context // the browser's
	cancel func()
	skip   string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chrome.cancel != nil {
		chrome.cancel()
	}
	os.Exit(code)
}

// findChromium returns the path of a Chromium or Chrome binary, or "".
func findChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// tab opens a browser tab for the test, with a deadline. JavaScript
// dialogs (alert, confirm) fail the test: the console never opens one, so
// one means that injected markup ran.
func tab(t *testing.T) context.Context {
	t.Helper()
	chrome.once.Do(func() {
		path := findChromium()
		if path == "" {
			chrome.skip = "no Chromium: install Debian's chromium package (apt-get install -y chromium; .ci/run does) or set CHROMIUM to a Chrome binary"
			return
		}
		dir, err := os.MkdirTemp("", "pubexport-chromium-")
		if err != nil {
			chrome.skip = err.Error()
			return
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path),
			chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(dir),
			chromedp.WindowSize(1280, 900),
		)
		bctx, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil {
			bcancel()
			acancel()
			os.RemoveAll(dir)
			chrome.skip = fmt.Sprintf("Chromium at %s does not start: %v", path, err)
			return
		}
		chrome.ctx = bctx
		chrome.cancel = func() { bcancel(); acancel(); os.RemoveAll(dir) }
	})
	if chrome.skip != "" {
		t.Skip(chrome.skip)
	}
	ctx, cancel := chromedp.NewContext(chrome.ctx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 40*time.Second)
	t.Cleanup(cancelTimeout)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			t.Errorf("the page opened a JavaScript dialog: %q (injected markup ran)", ev.Message)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		shot(t, ctx, "failed")
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is true.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second))); err != nil {
		shot(t, ctx, "failed")
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// setSelect chooses a value in a select as a user does, change event
// included.
func setSelect(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return s.value === %q; })()`, sel, value, value))(ctx, t)
		return err
	})
}

// artefacts is where screenshots go, for a reviewer to look at; git
// ignores it.
func artefacts(t *testing.T) string {
	dir := os.Getenv("PUBEXPORT_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artefacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shot saves a PNG screenshot of the tab as NAME.png.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(artefacts(t), strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+".png")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}

// downloader saves the tab's downloads in a folder and reports each one.
type downloader struct {
	dir  string
	done chan downloaded
}

type downloaded struct {
	name string // the file name the server suggested
	path string
	err  error
}

func newDownloader(t *testing.T, ctx context.Context) *downloader {
	t.Helper()
	d := &downloader{dir: t.TempDir(), done: make(chan downloaded, 16)}
	enabled := true
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: d.dir, EventsEnabled: &enabled,
	}); err != nil {
		t.Fatalf("allowing downloads: %v", err)
	}
	names := map[string]string{}
	var mu sync.Mutex
	begins := chromedp.BrowserEvents(ctx, browser.DownloadWillBegin)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	go func() {
		for ev, err := range begins {
			if err != nil {
				return
			}
			mu.Lock()
			names[ev.GUID] = ev.SuggestedFilename
			mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range progress {
			if err != nil {
				return
			}
			if ev.State == browser.DownloadProgressStateInProgress {
				continue
			}
			// The begin event comes first, but on another queue.
			var name string
			for range 100 {
				mu.Lock()
				name = names[ev.GUID]
				mu.Unlock()
				if name != "" {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			r := downloaded{name: name, path: filepath.Join(d.dir, ev.GUID)}
			if ev.State != browser.DownloadProgressStateCompleted {
				r.err = fmt.Errorf("download %s: %s", name, ev.State)
			}
			d.done <- r
		}
	}()
	return d
}

func (d *downloader) wait(t *testing.T) downloaded {
	t.Helper()
	select {
	case r := <-d.done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no download completed within 20 s")
	}
	return downloaded{}
}

var finalName = regexp.MustCompile(`^Export(?:Final|Manifest)_([0-9a-f]{64})\.`)

// checkHash checks that a downloaded object's bytes hash to the SHA-256
// its name carries, and returns the bytes.
func checkHash(t *testing.T, d downloaded) []byte {
	t.Helper()
	m := finalName.FindStringSubmatch(d.name)
	if m == nil {
		t.Fatalf("downloaded %q: not an ExportFinal_<sha256> or ExportManifest_<sha256> name", d.name)
	}
	b, err := os.ReadFile(d.path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != m[1] {
		t.Fatalf("downloaded %s (%d bytes) hashes to %s", d.name, len(b), got)
	}
	return b
}

// get calls the server with a bearer token (none if empty).
func get(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}
