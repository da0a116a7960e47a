package export_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/formats"
)

// checkMonotone checks what someone polling an export sees over its whole
// run: records and percent never go down, a percent once shown stays, and
// the total is never below the records exported.
func checkMonotone(t *testing.T, seen []export.Progress) {
	t.Helper()
	if len(seen) < 3 {
		t.Fatalf("%d progress events, want several", len(seen))
	}
	last, shown := -1, false
	var records int64
	for i, p := range seen {
		if p.Records < records {
			t.Fatalf("event %d: records went from %d to %d", i, records, p.Records)
		}
		records = p.Records
		if p.Total >= 0 && p.Total < p.Records {
			t.Fatalf("event %d: total %d below the %d records exported", i, p.Total, p.Records)
		}
		pct, ok := p.Percent()
		if shown && !ok {
			t.Fatalf("event %d: the percentage disappeared (%+v)", i, p)
		}
		if ok && pct < last {
			t.Fatalf("event %d: percent went from %d to %d (%d of %d)", i, last, pct, p.Records, p.Total)
		}
		if ok {
			last, shown = pct, true
		}
	}
}

func runRecording(t *testing.T, c *apigee.Client, dir string, spec export.Spec) []export.Progress {
	t.Helper()
	var seen []export.Progress
	r := &export.Runner{Source: export.FromClient(c), Bucket: openLocal(t, dir), OnProgress: func(p export.Progress) { seen = append(seen, p) }}
	if _, err := r.Run(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	return seen
}

// TestProgressMonotoneOverStaleEstimate: the organization has grown since
// the last export, whose record count is the progress total's only source
// for developers. The total must not stay below the developers exported.
func TestProgressMonotoneOverStaleEstimate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := exporttest.Emulator(t, emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 20, Seed: 5}), emulator.Options{})
	spec := export.Spec{Org: "acme", Resource: apigee.Developers, Format: formats.NDJSON, Destination: "file://" + dir}
	runRecording(t, exporttest.ApigeeClient(t, small), dir, spec)
	grown := exporttest.Emulator(t, emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 200, Seed: 5}), emulator.Options{})
	seen := runRecording(t, exporttest.ApigeeClient(t, grown, apigee.WithPageSize(20)), dir, spec)
	if seen[0].Total != 20 && seen[1].Total != 20 {
		t.Fatalf("progress %+v: want the last export's 20 as the first total", seen[:2])
	}
	checkMonotone(t, seen)
}

// TestProgressMonotoneAppsGrow: revoked apps are approved while the first
// apps pass pages, so that pass's totalSize grows before the revoked pass's
// falls: evidence of more apps, but the percentage must not go back.
// Read one pass after another and with the passes at once.
func TestProgressMonotoneAppsGrow(t *testing.T) {
	t.Parallel()
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 30, Apps: 400, Seed: 8})
	var revoked []string
	for _, a := range data.Orgs[0].Apps {
		if a.GetStatus() == "revoked" {
			revoked = append(revoked, a.GetAppId())
		}
	}
	if len(revoked) < 20 {
		t.Fatalf("%d revoked apps, want at least 20", len(revoked))
	}
	for _, parallel := range []int{1, 4} {
		var (
			emu  *emulator.Server
			once sync.Once
			n    int
			mu   sync.Mutex
		)
		emu = exporttest.Emulator(t, data, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
			q, _ := url.ParseQuery(r.URL.RawQuery)
			if q.Get("status") != "approved" || q.Get("keyStatus") != "approved" || q.Get("pageToken") == "" {
				return false
			}
			mu.Lock()
			n++
			second := n == 2
			mu.Unlock()
			if second {
				once.Do(func() {
					for _, id := range revoked {
						if err := emu.SetAppStatus("acme", id, "approved"); err != nil {
							t.Error(err)
						}
					}
				})
			}
			return false
		}})
		dir := t.TempDir()
		var seen []export.Progress
		r := &export.Runner{
			Source: export.FromClient(exporttest.ApigeeClient(t, emu, apigee.WithPageSize(25))), Bucket: openLocal(t, dir),
			MaxParallelRequests: parallel, OnProgress: func(p export.Progress) { seen = append(seen, p) },
		}
		if _, err := r.Run(context.Background(), export.Spec{Org: "acme", Resource: apigee.Apps, Format: formats.NDJSON, Destination: "file://" + dir}); err != nil {
			t.Fatal(err)
		}
		checkMonotone(t, seen)
	}
}

// TestProgressAppsTotalSteady: about a quarter of the apps have approved
// and revoked keys and are listed by two passes, so the passes' totalSizes
// sum to far more than the apps. From the first page on, the total shown
// must stay near the apps finally exported, read one pass after another and
// at once: apps foreseen in a later pass are not counted twice. (Here the
// sum less the overlaps met shows 706 until the second pass, 18% over the
// 600 apps; foreseen from the first page of 100, 650, 8% over, and nearer
// with every page.)
func TestProgressAppsTotalSteady(t *testing.T) {
	t.Parallel()
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 30, Apps: 600, Seed: 12})
	emu := exporttest.Emulator(t, data, emulator.Options{})
	for _, parallel := range []int{1, 4} {
		dir := t.TempDir()
		var seen []export.Progress
		r := &export.Runner{
			Source: export.FromClient(exporttest.ApigeeClient(t, emu, apigee.WithPageSize(100))), Bucket: openLocal(t, dir),
			MaxParallelRequests: parallel, OnProgress: func(p export.Progress) { seen = append(seen, p) },
		}
		res, err := r.Run(context.Background(), export.Spec{Org: "acme", Resource: apigee.Apps, Format: formats.NDJSON, Destination: "file://" + dir})
		if err != nil {
			t.Fatal(err)
		}
		checkMonotone(t, seen)
		for i, p := range seen {
			if p.Total < 0 || p.Total*100 > res.Records*110 || p.Total < res.Records*90/100 {
				t.Fatalf("parallel %d, event %d: total %d, want within 10%% of the %d apps exported", parallel, i, p.Total, res.Records)
			}
		}
	}
}
