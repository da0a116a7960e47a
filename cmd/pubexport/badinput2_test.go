package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInputMisCoded holds bad inputs that used to be accepted or answered
// with the wrong code (issue 16 item 7), beside the bad-input suite.
func TestBadInputMisCoded(t *testing.T) {
	t.Parallel()

	t.Run("missing store", func(t *testing.T) {
		t.Parallel()
		typo := filepath.Join(t.TempDir(), "typo")
		for _, args := range [][]string{
			{"operations", "list", "--org", "acme", "--store", typo},
			{"operations", "get", "organizations/acme/operations/x", "--store", "file://" + typo},
			{"operations", "resume", "organizations/acme/operations/x", "--store", typo},
		} {
			ta := newTestApp(nil)
			code := ta.run(t.Context(), args...)
			if code != exitFailed || !strings.Contains(ta.stderr.String(), "(NOT_FOUND)") || !strings.Contains(ta.stderr.String(), "does not exist") {
				t.Errorf("%v: exit %d, want 1 with NOT_FOUND\n%s%s", args[:2], code, ta.stdout, ta.stderr)
			}
			if strings.Contains(ta.stdout.String(), "No operations") {
				t.Errorf("%v: says there are no operations", args[:2])
			}
			if _, err := os.Stat(typo); !os.IsNotExist(err) {
				t.Fatalf("%v created the folder: %v", args[:2], err)
			}
		}
	})

	t.Run("token without server", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		ta := newTestApp(nil)
		code := ta.run(t.Context(), "run", "--token", "abc", "--to", dir)
		if code != exitUsage || !strings.Contains(ta.stderr.String(), "--token") || !strings.Contains(ta.stderr.String(), "--server") {
			t.Errorf("exit %d, want 2 naming --token and --server\n%s", code, ta.stderr)
		}
		if finals, _ := exportFiles(t, dir); len(finals) != 0 {
			t.Errorf("exported anyway: %v", finals)
		}
	})

	t.Run("resource twice", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), "run", "--resource", "developers,Developers, developers", "--to", dir); code != 0 {
			t.Fatalf("exit %d\n%s", code, ta.stderr)
		}
		if n := strings.Count(ta.stderr.String(), "Started developers export"); n != 1 {
			t.Errorf("started %d developers exports, want 1\n%s", n, ta.stderr)
		}
		if _, manifests := exportFiles(t, dir); len(manifests) != 1 {
			t.Errorf("manifests %v, want 1", manifests)
		}
	})
}
