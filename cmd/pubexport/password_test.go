package main

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"pubexport/export/apigee/emulator"
)

// TestApigeeURLPasswordNotKept: `run --apigee-url http://user:s3cr3tpw@HOST`
// authenticates with the password (basic authentication on every request)
// but writes it nowhere: not in the manifest or the objects, not in the
// operation records, not in the output, the logs or an error. An export
// whose record lost the password is resumed with --apigee-url given again.
func TestApigeeURLPasswordNotKept(t *testing.T) {
	t.Parallel()
	var withAuth, without atomic.Int64
	emu := startEmulator(t, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); ok && u == "user" && p == "s3cr3tpw" {
			withAuth.Add(1)
			return false
		}
		without.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":401,"message":"basic authentication required","status":"UNAUTHENTICATED"}}`))
		return true
	}})
	withPassword := strings.Replace(emu.URL, "http://", "http://user:s3cr3tpw@", 1)
	dir := t.TempDir()

	ta := newTestApp(nil)
	code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", withPassword, "--resource", "developers",
		"--format", "ndjson", "--to", dir, "--verbosity", "debug", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
	if withAuth.Load() == 0 || without.Load() != 0 {
		t.Fatalf("requests with the password %d, without %d", withAuth.Load(), without.Load())
	}
	noSecret(t, "run", ta, dir)
	_, manifests := exportFiles(t, dir)
	if m, _ := os.ReadFile(manifests[0]); !strings.Contains(string(m), `"source": "http://user:xxxxx@`) {
		t.Errorf("manifest source is not the redacted URL:\n%s", m)
	}

	// A failure names the URL, redacted.
	ta = newTestApp(nil)
	code = ta.run(t.Context(), "run", "--org", "nosuchorg", "--apigee-url", withPassword, "--resource", "apps", "--to", dir, "--verbosity", "debug")
	if code != exitFailed || !strings.Contains(ta.stderr.String(), "GET http://") {
		t.Errorf("exit %d, want 1 with the URL in the error:\n%s", code, ta.stderr)
	}
	noSecret(t, "failed run", ta, dir)

	// A bad URL is echoed redacted.
	ta = newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--apigee-url", "http://user:s3cr3tpw@127.0.0.1:1/path", "--to", dir); code == 0 {
		t.Errorf("a URL with a path was accepted")
	}
	noSecret(t, "bad flags", ta, dir)
}

// noSecret fails if the password is in the app's output or any file under dir.
func noSecret(t *testing.T, what string, ta *testApp, dir string) {
	t.Helper()
	if strings.Contains(ta.stdout.String(), "s3cr3tpw") || strings.Contains(ta.stderr.String(), "s3cr3tpw") {
		t.Errorf("%s: the password is in the output:\nstdout:\n%s\nstderr:\n%s", what, ta.stdout, ta.stderr)
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, _ := os.ReadFile(p); strings.Contains(string(b), "s3cr3tpw") {
			t.Errorf("%s: the password is in %s", what, p)
		}
		return nil
	})
}
