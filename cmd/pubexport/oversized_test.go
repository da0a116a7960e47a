package main

import (
	"strings"
	"testing"
)

// TestOversizedFlagValues: a flag value (or an unknown flag, an argument, an
// environment variable) of hundreds of KB is refused with a short error,
// not echoed whole.
func TestOversizedFlagValues(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 500<<10)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"format", []string{"run", "--to", dir, "--format", big}, nil},
		{"compression", []string{"run", "--to", dir, "--compression", big}, nil},
		{"resource", []string{"run", "--to", dir, "--resource", big}, nil},
		{"output", []string{"run", "--to", dir, "--output", big}, nil},
		{"verbosity", []string{"run", "--to", dir, "--verbosity", big}, nil},
		{"csv delimiter", []string{"run", "--to", dir, "--format", "csv", "--csv-delimiter", big}, nil},
		{"org", []string{"run", "--to", dir, "--org", big, "--apigee-url", "http://127.0.0.1:1"}, nil},
		{"apigee url", []string{"run", "--to", dir, "--org", "acme", "--apigee-url", "http://h/" + big}, nil},
		{"to", []string{"run", "--to", "gs://" + big}, nil},
		{"max object size", []string{"run", "--to", dir, "--max-object-size", big}, nil},
		{"unknown flag", []string{"run", "--" + big}, nil},
		{"operation name", []string{"operations", "get", "organizations/acme/operations/" + big, "--store", dir}, nil},
		{"filter", []string{"operations", "list", "--org", "acme", "--store", dir, "--filter", big}, nil},
		{"server", []string{"operations", "list", "--org", "acme", "--server", "http://" + big}, nil},
		{"lease", []string{"run", "--to", dir}, map[string]string{leaseVar: big}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ta := newTestApp(c.env)
			code := ta.run(t.Context(), c.args...)
			if code == 0 {
				t.Fatalf("exit 0")
			}
			if n := len(ta.stderr.String()) + len(ta.stdout.String()); n > 8<<10 {
				t.Fatalf("exit %d with %d bytes of output: %.300s...", code, n, ta.stderr)
			}
			if !strings.Contains(ta.stderr.String(), "ERROR") {
				t.Errorf("no error line: %.300s", ta.stderr)
			}
		})
	}
}
