package main

import (
	"os"
	"testing"

	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// TestRunEmptyOrganization: `run` of every resource of an organization that
// has none, as NDJSON and as CSV without header (whose empty objects have
// no bytes at all) and Parquet, ends every export DONE with one empty object each.
func TestRunEmptyOrganization(t *testing.T) {
	t.Parallel()
	emu := exporttest.Emulator(t, emulator.Generate(emulator.GenerateSpec{Org: "empty"}), emulator.Options{})
	for _, args := range [][]string{{"--format", "ndjson"}, {"--format", "csv", "--no-header"}, {"--format", "parquet"}} {
		dir := t.TempDir()
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), append([]string{"run", "--org", "empty", "--apigee-url", emu.URL, "--to", dir}, args...)...); code != 0 {
			t.Fatalf("%v: exit %d\nstderr:\n%s", args, code, ta.stderr)
		}
		finals, manifests := exportFiles(t, dir)
		// Empty NDJSON and CSV objects are the same zero bytes, so the three
		// exports publish (or find) one ExportFinal_<sha256 of nothing>.
		if len(finals) == 0 || len(manifests) != 3 {
			t.Fatalf("%v: want objects and 3 manifests, got %v and %v", args, finals, manifests)
		}
		for _, f := range finals {
			if fi, err := os.Stat(f); err != nil || (args[1] != "parquet" && fi.Size() != 0) {
				t.Fatalf("%v: %s: %v, want an empty file", args, f, err)
			}
		}
	}
}
