package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pubexport/cmd/pubexport-bench/internal/report"
)

// TestMain lets the test binary serve as the export child the rss section
// re-executes, exactly as the real binary does.
func TestMain(m *testing.M) {
	if spec, ok := os.LookupEnv(childEnv); ok {
		os.Exit(childMain(spec, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestQuickRunReportsEverySection runs the whole harness at --quick sizes:
// real emulator processes, real exports, the real operations server. It
// checks the output's shape, never a figure: timings are information.
func TestQuickRunReportsEverySection(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--quick", "--json", jsonPath}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	table := stdout.String()
	t.Logf("table:\n%s", table)

	lines := strings.Split(table, "\n")
	for _, s := range sections {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, s+" ") && !strings.Contains(l, "skipped") {
				found = true
			}
		}
		if !found {
			t.Errorf("the table has no measured row for section %q", s)
		}
	}
	for _, col := range []string{"section", "case", "value", "reference", "ratio"} {
		if !strings.Contains(lines[2], col) {
			t.Errorf("the table header %q lacks column %q", lines[2], col)
		}
	}

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("the JSON does not parse: %v\n%s", err, b)
	}
	if strings.Join(rep.Sections, ",") != strings.Join(sections, ",") {
		t.Errorf("JSON sections = %v, want %v", rep.Sections, sections)
	}
	perSection := map[string]int{}
	for _, r := range rep.Rows {
		if r.Skipped != "" {
			t.Errorf("row %s/%s skipped: %s", r.Section, r.Case, r.Skipped)
			continue
		}
		if !(r.Value > 0) || r.Unit == "" {
			t.Errorf("row %s/%s has value %v %q", r.Section, r.Case, r.Value, r.Unit)
		}
		if !strings.Contains(table, r.Case) {
			t.Errorf("row %s/%s is in the JSON but not in the table", r.Section, r.Case)
		}
		if r.Section == "rss" && !(r.Extra["peakLiveHeapKiB"] > 0) {
			t.Errorf("row %s/%s has no peak live heap: %v", r.Section, r.Case, r.Extra)
		}
		perSection[r.Section]++
	}
	for _, s := range sections {
		if perSection[s] == 0 {
			t.Errorf("the JSON has no rows for section %q", s)
		}
	}
	// The rss section compares each resource and format at the three sizes.
	if perSection["rss"] != 24 {
		t.Errorf("rss rows = %d, want 24 (2 resources x 4 formats x 3 sizes)", perSection["rss"])
	}
}

func TestOnlyRunsOneSection(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--quick", "--only", "encode", "--json", jsonPath}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Sections) != 1 || rep.Sections[0] != "encode" {
		t.Errorf("sections = %v, want [encode]", rep.Sections)
	}
	for _, r := range rep.Rows {
		if r.Section != "encode" {
			t.Errorf("row of section %q in an --only encode run", r.Section)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"--only", "nope"}, {"extra"}, {"--bogus"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (usage error)", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("run(%q) printed no error", args)
		}
	}
}
