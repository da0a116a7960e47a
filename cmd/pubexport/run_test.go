package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"

	"pubexport/export/apigee/emulator"
	"pubexport/operations/operationspb"
)

func TestRunOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--to", dir); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, ta.stderr)
	}
	first, _, _ := strings.Cut(ta.stderr.String(), "\n")
	if !strings.HasPrefix(first, "Offline:") || !strings.Contains(first, `"acme"`) || !strings.Contains(first, "emulator") {
		t.Errorf("first line does not say it is offline: %q", first)
	}
	finals, manifests := exportFiles(t, dir)
	if len(finals) != 3 || len(manifests) != 3 {
		t.Fatalf("want 3 ExportFinal_ and 3 ExportManifest_ files, got %v and %v", finals, manifests)
	}
	out := ta.stdout.String()
	for _, r := range []string{"developers:", "apps:", "apiproducts:"} {
		if !strings.Contains(out, r) {
			t.Errorf("stdout lacks %q:\n%s", r, out)
		}
	}
	for _, f := range finals {
		if !strings.Contains(out, "file://"+filepath.ToSlash(f)) {
			t.Errorf("stdout does not print %s:\n%s", f, out)
		}
	}
	if strings.Count(out, "manifest: file://") != 3 {
		t.Errorf("stdout does not print 3 manifests:\n%s", out)
	}
	// Without a terminal, progress is log lines on stderr.
	if !strings.Contains(ta.stderr.String(), "developers: done,") {
		t.Errorf("stderr lacks the final progress line:\n%s", ta.stderr)
	}
	// The operations are in the store beside the exports.
	ta2 := newTestApp(nil)
	if code := ta2.run(t.Context(), "operations", "list", "--org", "acme", "--store", filepath.Join(dir, ".pubexport", "operations")); code != 0 {
		t.Fatalf("operations list: exit %d\n%s", code, ta2.stderr)
	}
	if got := strings.Count(ta2.stdout.String(), "DONE"); got != 3 {
		t.Errorf("operations list shows %d DONE operations:\n%s", got, ta2.stdout)
	}
}

// TestRunOfflineDefaultDir runs `pubexport run` with no flags at all, as
// `make run` does, in a temporary working directory (t.Chdir: not
// parallel).
func TestRunOfflineDefaultDir(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--resource", "apiproducts"); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, ta.stderr)
	}
	if !strings.Contains(ta.stderr.String(), "to ./exports") {
		t.Errorf("first line does not name ./exports:\n%s", ta.stderr)
	}
	finals, _ := exportFiles(t, filepath.Join(dir, "exports"))
	if len(finals) != 1 {
		t.Errorf("want one export in ./exports, got %v", finals)
	}
}

func TestRunOutputJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--to", dir, "--resource", "developers,apps", "--format", "csv", "--compression", "gzip", "--output", "json"); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, ta.stderr)
	}
	ops := parseOps(t, ta.stdout.String())
	if len(ops) != 2 {
		t.Fatalf("%d operations", len(ops))
	}
	for i, want := range []string{"developers", "apps"} {
		op := ops[i]
		if !op.GetDone() || op.GetError() != nil || labelOf(op) != want {
			t.Errorf("operation %d: %v", i, op)
		}
		resp := new(operationspb.ExportResponse)
		if err := op.GetResponse().UnmarshalTo(resp); err != nil {
			t.Fatal(err)
		}
		if resp.GetRecords() == 0 || len(resp.GetObjects()) != 1 || !strings.HasSuffix(resp.GetObjects()[0].GetName(), ".csv.gz") {
			t.Errorf("%s response: %v", want, resp)
		}
		if _, err := os.Stat(strings.TrimPrefix(resp.GetObjects()[0].GetUri(), "file://")); err != nil {
			t.Errorf("object not written: %v", err)
		}
	}
}

func TestRunBadFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"--format", "xml"}, "--format"},
		{"unknown resource", []string{"--resource", "users"}, "--resource"},
		{"bad compression", []string{"--format", "json", "--compression", "zstd"}, "--compression"},
		{"bad bucket name", []string{"--org", "acme", "--to", "gs://Bad_Bucket!/x"}, "--to"},
		{"bucket with google", []string{"--org", "acme", "--to", "gs://my-google-bucket/x"}, "--to"},
		{"path traversal prefix", []string{"--org", "acme", "--to", "gs://acme-exports/a/../../etc"}, "--to"},
		{"missing org with apigee-url", []string{"--apigee-url", "http://127.0.0.1:1", "--to", dir}, "--org"},
		{"missing org with server", []string{"--server", "http://127.0.0.1:1", "--to", dir}, "--org"},
		{"missing destination with org", []string{"--org", "acme"}, "--to"},
		{"bad delimiter", []string{"--format", "csv", "--csv-delimiter", ";"}, "--csv-delimiter"},
		{"csv option without csv", []string{"--no-header"}, "--no-header"},
		{"bad size", []string{"--max-object-size", "64 parsecs"}, "--max-object-size"},
		{"size too small", []string{"--max-object-size", "1KiB"}, "--max-object-size"},
		{"bad org name", []string{"--org", "acme corp", "--to", dir}, "--org"},
		{"bad apigee url", []string{"--org", "acme", "--apigee-url", "ftp://x", "--to", dir}, "--apigee-url"},
		{"bad output", []string{"--output", "yaml"}, "--output"},
		{"unknown flag", []string{"--frobnicate"}, "--frobnicate"},
		{"positional argument", []string{"developers"}, "developers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(nil)
			args := append([]string{"run"}, c.args...)
			code := ta.run(t.Context(), args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, exitUsage, ta.stderr)
			}
			if !strings.Contains(ta.stderr.String(), c.want) || !strings.Contains(ta.stderr.String(), "ERROR:") {
				t.Errorf("stderr does not name %s:\n%s", c.want, ta.stderr)
			}
			if strings.Contains(ta.stderr.String(), "Offline:") {
				t.Errorf("started before validating:\n%s", ta.stderr)
			}
			if ta.stdout.String() != "" {
				t.Errorf("stdout: %q", ta.stdout)
			}
		})
	}
}

// TestRunFailure: an organization the API does not have fails the export
// with its code, and the CLI exits 1 with the operation's message.
func TestRunFailure(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	ta := newTestApp(nil)
	code := ta.run(t.Context(), "run", "--org", "nosuchorg", "--apigee-url", emu.URL, "--resource", "developers", "--to", t.TempDir())
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, ta.stderr)
	}
	if !strings.Contains(ta.stderr.String(), "ERROR: (NOT_FOUND)") || !strings.Contains(ta.stderr.String(), "nosuchorg") ||
		!strings.Contains(ta.stderr.String(), "code 5") {
		t.Errorf("stderr lacks the operation's error and code:\n%s", ta.stderr)
	}
	if !strings.Contains(ta.stdout.String(), "developers: FAILED") {
		t.Errorf("stdout: %s", ta.stdout)
	}
}

// TestRunInterrupt: Ctrl-C cancels the export: the operation ends
// CANCELLED, staging is removed and the exit status is 130.
func TestRunInterrupt(t *testing.T) {
	t.Parallel()
	// An API whose app listing never answers keeps the export running
	// until the test interrupts it.
	emu := startEmulator(t, emulator.Options{Intercept: blockAppsList(make(chan struct{}, 1))})
	dir := t.TempDir()
	ta := newTestApp(nil)
	done := make(chan int, 1)
	go func() {
		done <- ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--resource", "apps",
			"--to", dir, "--output", "json", "--max-object-size", "1MiB")
	}()
	waitFor(t, "the export to start", func() bool { return strings.Contains(ta.stderr.String(), "Started apps export") })
	ta.sig <- syscall.SIGINT
	code := <-done
	if code != exitInterrupted {
		t.Fatalf("exit %d, want 130\nstderr:\n%s", code, ta.stderr)
	}
	if len(ta.hardExits) != 0 {
		t.Errorf("hard exit after one Ctrl-C: %v", ta.hardExits)
	}
	ops := parseOps(t, ta.stdout.String())
	if len(ops) != 1 || !ops[0].GetDone() || codes.Code(ops[0].GetError().GetCode()) != codes.Canceled {
		t.Fatalf("operation did not end CANCELLED: %v", ops)
	}
	if left := stagingLeft(t, dir); len(left) != 0 {
		t.Errorf("staging left behind: %v", left)
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 0 {
		t.Errorf("a cancelled export published %v", finals)
	}
}
