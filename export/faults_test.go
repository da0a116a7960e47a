package export_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/sink/gcstest"
	"pubexport/formats"
)

// TestSourceFaultsGiveTheSameObject exports from an emulator that answers
// 10% of requests with 429 or 503: retries must make the output identical
// to a clean run's, for every resource.
func TestSourceFaultsGiveTheSameObject(t *testing.T) {
	gen := emulator.GenerateSpec{Developers: 3001, Apps: 2002, APIProducts: 2003, Seed: 21}
	clean := newEnv(t, gen, emulator.Options{})
	// The faulty emulator fails every tenth request; pages of 100 make
	// enough requests for every resource to meet several faults, and show
	// that page boundaries do not change the output either.
	var requests atomic.Int64
	faulty := newEnv(t, gen, emulator.Options{FaultRate: 0.1, Intercept: func(http.ResponseWriter, *http.Request) bool {
		requests.Add(1)
		return false
	}})
	c, err := apigee.NewClient(context.Background(), apigee.WithBaseURL(faulty.emu.URL), apigee.WithoutAuthentication(),
		apigee.WithPageSize(100), apigee.WithRetry(8, time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	faulty.src = export.FromClient(c)
	for _, r := range apigee.Resources() {
		t.Run(string(r), func(t *testing.T) {
			dir := t.TempDir()
			want, err := clean.run(context.Background(), openLocal(t, dir), clean.spec(r, formats.NDJSON, "file://"+dir), nil)
			if err != nil {
				t.Fatal(err)
			}
			dir = t.TempDir()
			before := requests.Load()
			got, err := faulty.run(context.Background(), openLocal(t, dir), faulty.spec(r, formats.NDJSON, "file://"+dir), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Objects[0].Name != want.Objects[0].Name || got.Records != want.Records {
				t.Fatalf("with faults %s (%d records), clean %s (%d)", got.Objects[0].Name, got.Records, want.Objects[0].Name, want.Records)
			}
			if n := requests.Load() - before; n < 20 {
				t.Fatalf("only %d requests, so at most %d faults: the test proves little", n, n/10)
			}
		})
	}
}

// TestConcurrentExportsShareAPrefix runs several exports at once into the
// same bucket and prefix, two of them identical: each must publish exactly
// what it publishes alone, and no run may remove another's staging.
func TestConcurrentExportsShareAPrefix(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 2500, Apps: 1500, APIProducts: 300, Seed: 22}, emulator.Options{Latency: time.Millisecond})
	srv := gcstest.Start(t, "exports")
	const dest = "gs://exports/shared"
	type job struct {
		r apigee.Resource
		f formats.Format
	}
	jobs := []job{
		{apigee.Developers, formats.JSON}, {apigee.Developers, formats.JSON},
		{apigee.Apps, formats.CSV}, {apigee.APIProducts, formats.Parquet}, {apigee.Apps, formats.NDJSON},
	}
	alone := make([]string, len(jobs))
	for i, j := range jobs {
		dir := t.TempDir()
		res, err := e.run(context.Background(), openLocal(t, dir), e.spec(j.r, j.f, "file://"+dir), nil)
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = res.Objects[0].Name
	}

	results := make([]*export.Result, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			results[i], errs[i] = e.run(context.Background(), openGCS(t, srv, dest), e.spec(j.r, j.f, dest),
				func(r *export.Runner) { r.CheckpointEvery = 1 })
		})
	}
	wg.Wait()
	finals := map[string]bool{}
	for i := range jobs {
		if errs[i] != nil {
			t.Fatalf("export %d (%s %s): %v", i, jobs[i].r, jobs[i].f, errs[i])
		}
		if got := results[i].Objects[0].Name; got != alone[i] {
			t.Fatalf("export %d wrote %s together, %s alone", i, got, alone[i])
		}
		finals[alone[i]] = true
	}
	var gotFinals, manifests int
	for _, n := range objects(t, srv, "exports", "shared/") {
		switch {
		case strings.HasPrefix(n, "ExportFinal_"):
			if !finals[n] {
				t.Errorf("unexpected object %s", n)
			}
			gotFinals++
		case strings.HasPrefix(n, export.ManifestPrefix):
			manifests++
		default:
			t.Errorf("left behind: %s", n)
		}
	}
	if gotFinals != len(finals) || manifests < len(jobs)-1 {
		t.Fatalf("%d finals and %d manifests, want %d and at least %d", gotFinals, manifests, len(finals), len(jobs)-1)
	}
}
