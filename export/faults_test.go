package export_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
	"pubexport/formats"
)

// TestSourceFaultsGiveTheSameObject exports from an emulator that answers
// 10% of requests with 429 or 503 (the 503s without Retry-After, so the
// client's millisecond backoff paces the retries): retries must make the
// output identical to a clean run's, for every resource.
func TestSourceFaultsGiveTheSameObject(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	gen := emulator.GenerateSpec{Developers: 3001, Apps: 2002, APIProducts: 2003, Seed: 21}
	clean := newEnv(t, gen, emulator.Options{})
	// The faulty emulator fails every tenth request; pages of 100 make
	// enough requests for every resource to meet several faults, and show
	// that page boundaries do not change the output either.
	var requests atomic.Int64
	faulty := newEnv(t, gen, emulator.Options{FaultRate: 0.1, FaultRetryAfter: -1, Intercept: func(http.ResponseWriter, *http.Request) bool {
		requests.Add(1)
		return false
	}})
	c := exporttest.ApigeeClient(t, faulty.emu,
		apigee.WithPageSize(100), apigee.WithRetry(8, time.Millisecond, 10*time.Millisecond))
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
	t.Parallel() // among the slowest: they run together after the rest
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
		case strings.HasPrefix(n, export.SchemaPrefix):
		default:
			t.Errorf("left behind: %s", n)
		}
	}
	if gotFinals != len(finals) || manifests < len(jobs)-1 {
		t.Fatalf("%d finals and %d manifests, want %d and at least %d", gotFinals, manifests, len(finals), len(jobs)-1)
	}
}

// hookBucket is a destination that lets a test act when the export reaches
// a given call; everything else is the real bucket's.
type hookBucket struct {
	sink.Bucket
	onNewWriter func(name string)
	deleteErr   func(name string) error
}

func (b hookBucket) NewWriter(ctx context.Context, name string, a sink.Attrs) (sink.Writer, error) {
	if b.onNewWriter != nil {
		b.onNewWriter(name)
	}
	return b.Bucket.NewWriter(ctx, name, a)
}

func (b hookBucket) Delete(ctx context.Context, name string) error {
	if b.deleteErr != nil {
		if err := b.deleteErr(name); err != nil {
			return err
		}
	}
	return b.Bucket.Delete(ctx, name)
}

// TestResumeAfterLastPublish stops a run after its last object is published
// but before the manifest is written (a SIGTERM or a crash at the worst
// moment): the run resumed from its last checkpoint must still finish, with
// the object a clean run writes.
func TestResumeAfterLastPublish(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 3500, Seed: 23}, emulator.Options{})
	cleanDir := t.TempDir()
	spec := e.spec(apigee.Developers, formats.JSON, "file://"+cleanDir)
	clean, err := e.run(context.Background(), openLocal(t, cleanDir), spec, func(r *export.Runner) { r.CheckpointEvery = 2 })
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	spec.Destination = "file://" + dir
	local := openLocal(t, dir)
	ctx, cancel := context.WithCancelCause(context.Background())
	var last *export.Checkpoint
	_, err = e.run(ctx, hookBucket{Bucket: local, onNewWriter: func(name string) {
		if strings.HasSuffix(name, "/manifest") {
			cancel(export.ErrSuspend)
		}
	}}, spec, func(r *export.Runner) {
		r.CheckpointEvery = 2
		r.StagingID = "op-last"
		r.OnCheckpoint = func(_ context.Context, cp *export.Checkpoint) error {
			last = cp
			return nil
		}
	})
	if status.Code(err) != codes.Aborted || last == nil {
		t.Fatalf("suspended run: %v (checkpoint %v), want ABORTED after a checkpoint", err, last != nil)
	}
	resumed, err := e.run(context.Background(), local, spec, func(r *export.Runner) {
		r.CheckpointEvery = 2
		r.StagingID = "op-last"
		r.Resume = last
	})
	if err != nil {
		t.Fatalf("resuming after the last publish: %v", err)
	}
	if resumed.Objects[0].Name != clean.Objects[0].Name {
		t.Fatalf("resumed %s, clean %s", resumed.Objects[0].Name, clean.Objects[0].Name)
	}
	if hasStaging(t, dir) {
		t.Fatal("staging left behind")
	}
}

// TestStagingDeleteFailureIsNotAnExportFailure: once an object is
// published, failing to delete its staging parts costs storage, not
// correctness; the export goes on and finishes.
func TestStagingDeleteFailureIsNotAnExportFailure(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Apps: 3001, Developers: 10, Seed: 24}, emulator.Options{})
	dir := t.TempDir()
	spec := e.spec(apigee.Apps, formats.NDJSON, "file://"+dir)
	spec.MaxObjectSize = export.MinObjectSize
	var refused atomic.Int32
	res, err := e.run(context.Background(), hookBucket{Bucket: openLocal(t, dir), deleteErr: func(name string) error {
		if strings.Contains(name, "-part-") && refused.Add(1) <= 2 {
			return status.Error(codes.Unavailable, "injected: deleting staging failed")
		}
		return nil
	}}, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) < 2 || refused.Load() < 2 {
		t.Fatalf("%d objects, %d refused deletes: the test did not split or did not inject", len(res.Objects), refused.Load())
	}
}

// hasStaging reports whether dir holds staging objects.
func hasStaging(t *testing.T, dir string) bool {
	for _, f := range files(t, dir) {
		if strings.HasPrefix(f, export.StagingPrefix) {
			return true
		}
	}
	return false
}
