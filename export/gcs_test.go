package export_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// openGCS opens gs://bucket/prefix on the fake Cloud Storage server with the
// real storage client, with retries fast enough for a test.
func openGCS(t *testing.T, srv *gcstest.Server, dest string) sink.Bucket {
	t.Helper()
	b, err := sink.Open(context.Background(), dest,
		sink.WithClientOptions(srv.ClientOptions()...),
		sink.WithChunkSize(256<<10),
		sink.WithRetry(10, time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// objects lists a bucket's object names under prefix, sorted.
func objects(t *testing.T, srv *gcstest.Server, bucket, prefix string) []string {
	var out []string
	for _, n := range srv.Objects(t, bucket) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, strings.TrimPrefix(n, prefix))
		}
	}
	sort.Strings(out)
	return out
}

// TestCloudStorageMatchesLocalFolder exports apps in every format, and the
// other resources in one format each, to a Cloud Storage bucket and to a
// local folder: the objects must be byte-identical (same
// ExportFinal_<hash>), and a rerun into the bucket finds its object already
// published. A destination sees bytes and a format's side objects, not
// records, so every format is written once; every resource once more shows
// the object names and URIs of each.
func TestCloudStorageMatchesLocalFolder(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newEnv(t, emulator.GenerateSpec{Developers: 1203, Apps: 1101, APIProducts: 37, Seed: 11}, emulator.Options{})
	srv := gcstest.Start(t, "exports")
	for _, r := range apigee.Resources() {
		fs := []formats.Format{formats.JSON, formats.NDJSON, formats.CSV, formats.Parquet}
		switch r {
		case apigee.Developers:
			fs = []formats.Format{formats.CSV}
		case apigee.APIProducts:
			fs = []formats.Format{formats.JSON}
		}
		for _, f := range fs {
			t.Run(string(r)+"/"+string(f), func(t *testing.T) {
				dir := t.TempDir()
				local, err := e.run(context.Background(), openLocal(t, dir), e.spec(r, f, "file://"+dir), nil)
				if err != nil {
					t.Fatal(err)
				}
				dest := "gs://exports/" + string(r) + "/" + string(f)
				b := openGCS(t, srv, dest)
				remote, err := e.run(context.Background(), b, e.spec(r, f, dest), nil)
				if err != nil {
					t.Fatal(err)
				}
				if remote.Objects[0].Name != local.Objects[0].Name || remote.Records != local.Records {
					t.Fatalf("bucket got %s (%d records), folder %s (%d)", remote.Objects[0].Name, remote.Records, local.Objects[0].Name, local.Records)
				}
				if want := dest + "/" + remote.Objects[0].Name; remote.Objects[0].URI != want {
					t.Fatalf("URI %s, want %s", remote.Objects[0].URI, want)
				}
				got := withoutSchema(t, f, objects(t, srv, "exports", string(r)+"/"+string(f)+"/"))
				if len(got) != 2 || got[0] != remote.Objects[0].Name || got[1] != remote.Manifest.Name {
					t.Fatalf("bucket holds %v, want the final and the manifest only", got)
				}
				again, err := e.run(context.Background(), b, e.spec(r, f, dest), nil)
				if err != nil {
					t.Fatal(err)
				}
				if again.Objects[0].Name != remote.Objects[0].Name || !again.Objects[0].Existed {
					t.Fatalf("rerun: %+v, want the same object, marked existing", again.Objects[0])
				}
			})
		}
	}
}

// TestCloudStorageFaults fails every third Cloud Storage request with 503
// before the server sees it: the export must still publish the same object
// as a clean run, with nothing partial and no staging left.
func TestCloudStorageFaults(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newEnv(t, emulator.GenerateSpec{Developers: 4321, Seed: 12}, emulator.Options{})
	srv := gcstest.Start(t, "exports")
	for _, c := range []struct {
		f formats.Format
		z formats.Compression
	}{{formats.JSON, ""}, {formats.CSV, formats.Gzip}, {formats.Parquet, ""}} {
		t.Run(string(c.f)+string(c.z), func(t *testing.T) {
			spec := e.spec(apigee.Developers, c.f, "gs://exports/clean-"+string(c.f))
			spec.Compression = c.z
			clean, err := e.run(context.Background(), openGCS(t, srv, spec.Destination), spec, func(r *export.Runner) { r.CheckpointEvery = 1 })
			if err != nil {
				t.Fatal(err)
			}

			faults := gcstest.FailEvery(3, http.StatusServiceUnavailable)
			srv.Use(faults.Middleware)
			defer srv.Use()
			spec.Destination = "gs://exports/faulty-" + string(c.f)
			faulty, err := e.run(context.Background(), openGCS(t, srv, spec.Destination), spec, func(r *export.Runner) { r.CheckpointEvery = 1 })
			srv.Use()
			if err != nil {
				t.Fatalf("after %d injected 503s: %v", faults.Injected(), err)
			}
			if faults.Injected() < 5 {
				t.Fatalf("only %d faults injected: the test proves nothing", faults.Injected())
			}
			if faulty.Objects[0].Name != clean.Objects[0].Name {
				t.Fatalf("with faults %s, clean %s", faulty.Objects[0].Name, clean.Objects[0].Name)
			}
			got := withoutSchema(t, c.f, objects(t, srv, "exports", "faulty-"+string(c.f)+"/"))
			if len(got) != 2 || !strings.HasPrefix(got[0], "ExportFinal_") || !strings.HasPrefix(got[1], export.ManifestPrefix) {
				t.Fatalf("bucket holds %v, want one final and one manifest", got)
			}
		})
	}
}

// TestCloudStorageCancelLeavesNothing cancels an export into a bucket after
// some pages: nothing is published and the staging objects are gone.
func TestCloudStorageCancelLeavesNothing(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 6000, Seed: 13}, emulator.Options{})
	srv := gcstest.Start(t, "exports")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := e.spec(apigee.Developers, formats.NDJSON, "gs://exports/cancelled")
	_, err := e.run(ctx, openGCS(t, srv, spec.Destination), spec, func(r *export.Runner) {
		r.CheckpointEvery = 1
		r.OnProgress = func(p export.Progress) {
			if p.Pages == 3 {
				cancel()
			}
		}
	})
	if status.Code(err) != codes.Canceled {
		t.Fatalf("got %v, want CANCELLED", err)
	}
	if got := objects(t, srv, "exports", ""); len(got) != 0 {
		t.Fatalf("a cancelled export left %v", got)
	}
}

// TestCloudStorageCancelDuringCommit: an export cancelled while a staging
// part is being committed leaves nothing. Cloud Storage may carry out a
// request whose client hung up; the emulator here does so right after the
// next listing, which is the cancelled run's cleanup, so a run that gave up
// on the commit would leave the part behind for good.
func TestCloudStorageCancelDuringCommit(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 3000, Seed: 13}, emulator.Options{})
	srv := gcstest.Start(t, "exports")
	late := gcstest.HoldCreate(gcstest.CreateOf("cancelled/" + export.StagingPrefix + "run-1/object-0000-part-00001"))
	srv.Use(late.Middleware)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go func() {
		select {
		case <-late.Held():
		case <-ran:
			return
		}
		cancel()
		select {
		case <-ran: // gave up on the commit
		case <-time.After(time.Second):
			late.Release() // still waiting for its answer, as it should
		}
	}()
	spec := e.spec(apigee.Developers, formats.NDJSON, "gs://exports/cancelled")
	_, err := e.run(ctx, openGCS(t, srv, spec.Destination), spec, func(r *export.Runner) {
		r.CheckpointEvery = 1
		r.StagingID = "run-1"
	})
	close(ran)
	if status.Code(err) != codes.Canceled {
		t.Fatalf("got %v, want CANCELLED", err)
	}
	select {
	case <-late.Held():
	default:
		t.Fatal("the commit of the second staging part was never held: the test proves nothing")
	}
	<-late.Done()
	srv.Use()
	if got := objects(t, srv, "exports", ""); len(got) != 0 {
		t.Fatalf("an export cancelled during a commit left %v (its client hung up on the commit: %v)", got, late.HungUp())
	}
}

// TestCloudStorageDestinationErrors: a missing bucket and a caller who may
// not write fail before any Apigee page is read, with the right code.
func TestCloudStorageDestinationErrors(t *testing.T) {
	var pages atomic.Int32
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 10, Seed: 1})
	emu := exporttest.Emulator(t, data, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/developers") {
			pages.Add(1)
		}
		return false
	}})
	c := exporttest.ApigeeClient(t, emu)
	srv := gcstest.Start(t, "exports")

	spec := export.Spec{Org: "acme", Resource: apigee.Developers, Format: formats.JSON, Destination: "gs://missing-bucket/x", ApigeeURL: emu.URL}
	r := &export.Runner{Source: export.FromClient(c), Bucket: openGCS(t, srv, spec.Destination)}
	if _, err := r.Run(context.Background(), spec); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "missing-bucket") {
		t.Fatalf("missing bucket: %v, want NOT_FOUND naming it", err)
	}

	srv.Use(gcstest.Deny(http.StatusForbidden, gcstest.ObjectInserts).Middleware)
	defer srv.Use()
	spec.Destination = "gs://exports/denied"
	r.Bucket = openGCS(t, srv, spec.Destination)
	if _, err := r.Run(context.Background(), spec); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("no permission: %v, want PERMISSION_DENIED", err)
	}
	if n := pages.Load(); n != 0 {
		t.Fatalf("%d Apigee pages read before the destination was checked", n)
	}
	if got := objects(t, srv, "exports", ""); len(got) != 0 {
		t.Fatalf("failed checks left %v", got)
	}
}

// TestPlainPathDestination: a plain folder path works as file:// does.
func TestPlainPathDestination(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{APIProducts: 5, Seed: 14}, emulator.Options{})
	dir := t.TempDir()
	b, err := sink.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, err := e.run(context.Background(), b, e.spec(apigee.APIProducts, formats.CSV, dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, res.Objects[0].Name)); err != nil {
		t.Fatal(err)
	}
}
