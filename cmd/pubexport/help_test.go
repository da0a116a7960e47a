package main

import (
	"strings"
	"testing"

	"pubexport/cmd/pubexport/internal/jobenv"
)

// TestHelpTeaches: every command's --help has examples, and the job's
// lists every environment variable it reads.
func TestHelpTeaches(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{}, {"run"}, {"serve"}, {"job"}, {"operations"},
		{"operations", "get"}, {"operations", "list"}, {"operations", "wait"}, {"operations", "cancel"}, {"operations", "resume"},
	} {
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), append(args, "--help")...); code != 0 {
			t.Errorf("%v --help: exit %d", args, code)
		}
		_, examples, ok := strings.Cut(ta.stdout.String(), "Examples:\n")
		if !ok || !strings.Contains(examples, "pubexport ") {
			t.Errorf("%v --help has no examples:\n%s", args, ta.stdout)
		}
	}
	ta := newTestApp(nil)
	ta.run(t.Context(), "job", "--help")
	for _, v := range jobenv.Vars {
		if !strings.Contains(ta.stdout.String(), v.Name) {
			t.Errorf("job --help does not document %s", v.Name)
		}
	}
	ta = newTestApp(nil)
	ta.run(t.Context(), "run", "--help")
	for _, flag := range []string{"--org", "--resource", "--format", "--compression", "--to", "--apigee-url", "--include-secrets",
		"--csv-delimiter", "--no-header", "--guard-formulas", "--max-object-size", "--output", "--server", "--token", "--store"} {
		if !strings.Contains(ta.stdout.String(), flag) {
			t.Errorf("run --help lacks %s", flag)
		}
	}
}

// TestListHelpOrder: operations are listed newest first (their ids are
// time-ordered and List returns them in reverse), and the help says so.
func TestListHelpOrder(t *testing.T) {
	t.Parallel()
	ta := newTestApp(nil)
	ta.run(t.Context(), "operations", "--help")
	if !strings.Contains(ta.stdout.String(), "newest first") || strings.Contains(ta.stdout.String(), "oldest first") {
		t.Errorf("operations --help:\n%s", ta.stdout)
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "exprot"); code == 0 || !strings.Contains(ta.stderr.String(), "exprot") {
		t.Errorf("exit %d\n%s", code, ta.stderr)
	}
}
