package main

import (
	"strings"
	"testing"

	"pubexport/export/apigee/emulator"
)

// TestRunSummaryNamesWarnings: `run` prints the warnings of each export
// (here unknown fields and an unknown enum value Apigee sent) under its
// objects, and logs them at WARNING.
func TestRunSummaryNamesWarnings(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{FutureFields: true})
	dir := t.TempDir()
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--resource", "apiproducts", "--to", dir, "--apigee-timeout", "20s"); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, ta.stderr)
	}
	out := ta.stdout.String()
	if !strings.Contains(out, `  warning: ignored unknown field "apiProduct.futureField"`) {
		t.Errorf("stdout does not name the unknown field:\n%s", out)
	}
	if !strings.Contains(ta.stderr.String(), "export warning") {
		t.Errorf("stderr does not log the warnings:\n%s", ta.stderr)
	}
}

// TestApigeeTimeoutInvalid: a bad --apigee-timeout or
// PUBEXPORT_APIGEE_TIMEOUT is a usage error naming it.
func TestApigeeTimeoutInvalid(t *testing.T) {
	t.Parallel()
	ta := newTestApp(map[string]string{"PUBEXPORT_APIGEE_TIMEOUT": "soon"})
	code := ta.run(t.Context(), "run", "--to", t.TempDir())
	if code != 2 || !strings.Contains(ta.stderr.String(), "PUBEXPORT_APIGEE_TIMEOUT") {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
}

// TestMaxParallelRequestsInvalid: --max-parallel-requests and
// PUBEXPORT_MAX_PARALLEL_REQUESTS outside 1 to 64 (0 included) are usage
// errors naming them, before anything runs; in range they export.
func TestMaxParallelRequestsInvalid(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-1", "65", "100000000000"} {
		ta := newTestApp(nil)
		dir := t.TempDir()
		code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", "http://127.0.0.1:1", "--to", dir, "--max-parallel-requests", v)
		if code != 2 || !strings.Contains(ta.stderr.String(), "--max-parallel-requests") {
			t.Fatalf("--max-parallel-requests %s: exit %d\n%s", v, code, ta.stderr)
		}
		ta = newTestApp(map[string]string{"PUBEXPORT_MAX_PARALLEL_REQUESTS": v})
		code = ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", "http://127.0.0.1:1", "--to", dir)
		if code != 2 || !strings.Contains(ta.stderr.String(), "PUBEXPORT_MAX_PARALLEL_REQUESTS") {
			t.Fatalf("PUBEXPORT_MAX_PARALLEL_REQUESTS=%s: exit %d\n%s", v, code, ta.stderr)
		}
	}
	emu := startEmulator(t, emulator.Options{})
	ta := newTestApp(map[string]string{"PUBEXPORT_MAX_PARALLEL_REQUESTS": "2"})
	if code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--resource", "apps", "--to", t.TempDir()); code != 0 {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
}
