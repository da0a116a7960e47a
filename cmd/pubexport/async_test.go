package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"pubexport/export/apigee/emulator"
)

// TestRunServerAsync: `run --server --async` prints the operation's name and
// exits 0 while the export is still running on the server.
func TestRunServerAsync(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	emu := startEmulator(t, emulator.Options{Intercept: blockAppsList(started)})
	srv, _ := startServe(t, "--store", "file://"+t.TempDir(), "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--server", srv, "--org", "acme", "--apigee-url", emu.URL, "--resource", "apps", "--to", t.TempDir(), "--async"); code != 0 {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
	name := strings.TrimSpace(ta.stdout.String())
	if checkOpName(name) != nil {
		t.Fatalf("stdout is not an operation name: %q", name)
	}
	c := dial(t, srv)
	op, err := c.Get(t.Context(), name)
	if err != nil || op.GetDone() {
		t.Errorf("the operation is not running after --async returned: %v %v", op, err)
	}

	ta = newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--to", t.TempDir(), "--async"); code != exitUsage || !strings.Contains(ta.stderr.String(), "--async needs --server") {
		t.Errorf("--async without --server: exit %d\n%s", code, ta.stderr)
	}
}

// TestRunServerInterruptLeavesExport: Ctrl-C on `run --server` stops the
// watching and prints the cancel command; the export goes on.
func TestRunServerInterruptLeavesExport(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	emu := startEmulator(t, emulator.Options{Intercept: blockAppsList(started)})
	srv, _ := startServe(t, "--store", "file://"+t.TempDir(), "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	ta := newTestApp(nil)
	done := make(chan int, 1)
	go func() {
		done <- ta.run(t.Context(), "run", "--server", srv, "--org", "acme", "--apigee-url", emu.URL, "--resource", "apps", "--to", t.TempDir())
	}()
	<-started
	ta.sig <- syscall.SIGINT
	if code := <-done; code != exitInterrupted {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
	name := startedName(t, ta.stderr.String(), "apps")
	if want := "pubexport operations cancel " + name + " --server " + srv; !strings.Contains(ta.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, ta.stderr)
	}
	c := dial(t, srv)
	if op, err := c.Get(t.Context(), name); err != nil || op.GetDone() {
		t.Errorf("the export did not go on: %v %v", op, err)
	}
}

// TestWaitRealSignal sends a real SIGINT to a `pubexport operations wait`
// process: it exits 130 with the cancel command, and the operation is
// still running on the server.
func TestWaitRealSignal(t *testing.T) {
	t.Parallel()
	bin, asMain := selfAsMain(t)
	started := make(chan struct{}, 1)
	emu := startEmulator(t, emulator.Options{Intercept: blockAppsList(started)})
	srv, _ := startServe(t, "--store", "file://"+t.TempDir(), "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--server", srv, "--org", "acme", "--apigee-url", emu.URL, "--resource", "apps", "--to", t.TempDir(), "--async"); code != 0 {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
	name := strings.TrimSpace(ta.stdout.String())
	<-started

	// A proxy that says when the child polls: by then it has subscribed
	// to signals (wait subscribes before its first call).
	target, _ := url.Parse(srv)
	polled := make(chan struct{}, 1)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case polled <- struct{}{}:
		default:
		}
		r.Host = target.Host // the server answers only for its own address
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "operations", "wait", name, "--server", proxy.URL)
	cmd.Env = []string{"HOME=" + t.TempDir(), asMain}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-polled
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("wait after SIGINT: %v, want exit status %d\n%s", err, exitInterrupted, stderr.String())
	}
	if want := "pubexport operations cancel " + name + " --server " + proxy.URL; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
	c := dial(t, srv)
	if op, err := c.Get(t.Context(), name); err != nil || op.GetDone() {
		t.Errorf("the operation did not go on after Ctrl-C on wait: %v %v", op, err)
	}
}

// TestServeLogsEveryEnd: serve logs a failed export at ERROR and a
// cancelled one at WARNING, each with its operation name (it used to log
// only the successful ones).
func TestServeLogsEveryEnd(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	block := blockAppsList(started)
	emu := startEmulator(t, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/apiproducts") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}`))
			return true
		}
		return block(w, r)
	}})
	srv, serveApp := startServe(t, "--store", "file://"+t.TempDir(), "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--server", srv, "--org", "acme", "--apigee-url", emu.URL, "--resource", "apiproducts,apps", "--to", t.TempDir(), "--async"); code != 0 {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
	names := strings.Fields(ta.stdout.String())
	if len(names) != 2 {
		t.Fatalf("names: %q", names)
	}
	<-started
	if code := newTestApp(nil).run(t.Context(), "operations", "cancel", names[1], "--server", srv); code != 0 {
		t.Fatal("cancel failed")
	}
	want := map[string]string{"operation failed": "ERROR", "operation cancelled": "WARNING"}
	waitFor(t, "serve to log both ends", func() bool {
		got := 0
		for _, l := range logLines(t, serveApp.stdout.String()) {
			msg, _ := l["message"].(string)
			lab, _ := l["logging.googleapis.com/operation"].(map[string]any)
			if sev, ok := want[msg]; ok && l["severity"] == sev && lab != nil &&
				(lab["id"] == names[0] && msg == "operation failed" || lab["id"] == names[1] && msg == "operation cancelled") {
				got++
			}
		}
		return got == 2
	})
}
