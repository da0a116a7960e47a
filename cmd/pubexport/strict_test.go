package main

import (
	"strings"
	"testing"

	"pubexport/export/apigee/emulator"
)

// TestMissingBucket: a mistyped bucket is reported as such, whether the
// operation store (recording the operation) or the destination meets it
// first.
func TestMissingBucket(t *testing.T) {
	t.Parallel()
	srv := startGCS(t, "acme-exports")
	emu := startEmulator(t, emulator.Options{})
	for _, c := range []struct {
		name string
		args []string
	}{
		{"store and destination", []string{"--to", "gs://acme-exprots/apigee"}},
		{"destination", []string{"--to", "gs://acme-exprots/apigee", "--store", "gs://acme-exports/ops"}},
		{"store", []string{"--to", "gs://acme-exports/apigee", "--store", "gs://acme-exprots/ops"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ta := newTestApp(gcsEnv(srv, nil))
			code := ta.run(t.Context(), append([]string{"run", "--org", "acme", "--apigee-url", emu.URL, "--resource", "apps"}, c.args...)...)
			out := ta.stderr.String()
			if code != exitFailed || !strings.Contains(out, "(NOT_FOUND)") || !strings.Contains(out, "gs://acme-exprots does not exist") {
				t.Errorf("exit %d\n%s", code, out)
			}
		})
	}
	ta := newTestApp(gcsEnv(srv, jobEnv(emu, "", map[string]string{"PUBEXPORT_DESTINATION": "gs://acme-exprots/apigee/{resource}/{date}"})))
	if code := ta.run(t.Context(), "job"); code != exitFailed || !strings.Contains(ta.stdout.String()+ta.stderr.String(), "gs://acme-exprots does not exist") {
		t.Errorf("job: exit %d\n%s\n%s", code, ta.stdout, ta.stderr)
	}
}

// TestUnknownVariable: a misspelled PUBEXPORT_ variable is an error naming
// it and the nearest known one, before anything runs.
func TestUnknownVariable(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	dir := t.TempDir()
	ta := newTestApp(jobEnv(emu, dir, map[string]string{"PUBEXPORT_RESOURCE": "apps"}))
	code := ta.run(t.Context(), "job")
	if code != exitUsage || !strings.Contains(ta.stderr.String(), "unknown environment variable PUBEXPORT_RESOURCE: did you mean PUBEXPORT_RESOURCES?") {
		t.Errorf("job: exit %d\n%s", code, ta.stderr)
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 0 {
		t.Errorf("exported anyway: %v", finals)
	}
	ta = newTestApp(map[string]string{"PUBEXPORT_SEVRER": "http://127.0.0.1:1"})
	if code := ta.run(t.Context(), "operations", "list", "--org", "acme"); code != exitUsage || !strings.Contains(ta.stderr.String(), "did you mean PUBEXPORT_SERVER?") {
		t.Errorf("operations list: exit %d\n%s", code, ta.stderr)
	}
}

// TestVersion: `version` and --version print the module version and the
// VCS revision from the build info (a test binary has no VCS stamp, so the
// revision reads "unknown" here), even with an unknown PUBEXPORT_ variable
// set.
func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		ta := newTestApp(map[string]string{"PUBEXPORT_TYPO": "x"})
		if code := ta.run(t.Context(), args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, ta.stderr)
		}
		v, rev := buildVersion()
		if want := "pubexport " + v + ", revision " + rev + "\n"; ta.stdout.String() != want {
			t.Errorf("%v printed %q, want %q", args, ta.stdout, want)
		}
	}
}

// TestBadNotify: a topic that is not pubsub://projects/P/topics/T is a
// usage error naming the flag or variable, before anything runs.
func TestBadNotify(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	dir := t.TempDir()
	ta := newTestApp(jobEnv(emu, dir, map[string]string{"PUBEXPORT_NOTIFY": "projects/p/topics/t"}))
	if code := ta.run(t.Context(), "job"); code != exitUsage || !strings.Contains(ta.stderr.String(), "PUBEXPORT_NOTIFY") || !strings.Contains(ta.stderr.String(), "pubsub://projects/PROJECT/topics/TOPIC") {
		t.Errorf("job: exit %d\n%s", code, ta.stderr)
	}
	ta = newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--to", dir, "--notify", "pubsub://projects/acme-ops/exports"); code != exitUsage || !strings.Contains(ta.stderr.String(), "--notify") {
		t.Errorf("run: exit %d\n%s", code, ta.stderr)
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 0 {
		t.Errorf("exported anyway: %v", finals)
	}
}
