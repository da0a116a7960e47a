package export_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/formats"
)

// revokedDuringExport is an emulator whose approved pass of /apps lists an
// app that its revoked pass lists too, as when the app is revoked while an
// export runs: the revoked pass is served from a copy of the data in which
// the last approved app (last in server order, so late in the revoked pass)
// is revoked.
func revokedDuringExport(t *testing.T) (*env, string) {
	t.Helper()
	gen := emulator.GenerateSpec{Org: "acme", Developers: 40, Apps: 600, APIProducts: 5, Seed: 17}
	later := emulator.Generate(gen)
	apps := later.Orgs[0].Apps
	var moved *apigeepb.App
	for i := len(apps) - 1; i >= 0 && moved == nil; i-- {
		if apps[i].GetStatus() == "approved" {
			moved = apps[i]
		}
	}
	moved.Status = proto.String("revoked")
	revoked := emulator.NewHandler(later, emulator.Options{})
	e := newEnv(t, gen, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/apps") && r.URL.Query().Get("status") == "revoked" {
			revoked.ServeHTTP(w, r)
			return true
		}
		return false
	}})
	c := exporttest.ApigeeClient(t, e.emu,
		apigee.WithPageSize(20), apigee.WithRetry(4, time.Millisecond, 10*time.Millisecond))
	e.src = export.FromClient(c)
	return e, moved.GetAppId()
}

// TestResumeRemembersExportedKeys: an app listed in both status passes is
// exported once by a clean run, and must be by a run suspended and resumed
// in between too, or the resumed run writes other bytes than the clean one.
// The run is suspended twice, in the approved pass and in the revoked pass
// before the app's second listing, so that the keys of both interrupted
// runs must reach the last one.
func TestResumeRemembersExportedKeys(t *testing.T) {
	e, id := revokedDuringExport(t)
	for _, c := range []struct {
		f formats.Format
		z string
	}{{formats.JSON, ""}, {formats.NDJSON, "gzip"}} {
		t.Run(string(c.f)+c.z, func(t *testing.T) {
			dir := t.TempDir()
			spec := e.spec(apigee.Apps, c.f, "file://"+dir)
			spec.Compression = formats.Compression(c.z)
			clean, err := e.run(context.Background(), openLocal(t, dir), spec, func(r *export.Runner) { r.CheckpointEvery = 1 })
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(e.data.Orgs[0].Apps)); clean.Records != want || clean.Duplicates != 1 {
				t.Fatalf("clean run: %d records, %d duplicates; want %d and 1 (app %s twice)", clean.Records, clean.Duplicates, want, id)
			}

			dir = t.TempDir()
			spec.Destination = "file://" + dir
			b := openLocal(t, dir)
			// suspend runs spec until the first checkpoint that stop
			// accepts, and returns that checkpoint.
			suspend := func(from *export.Checkpoint, stop func(*export.Checkpoint) bool) *export.Checkpoint {
				t.Helper()
				ctx, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				var mu sync.Mutex
				var at *export.Checkpoint
				_, err := e.run(ctx, b, spec, func(r *export.Runner) {
					r.CheckpointEvery = 1
					r.StagingID = "op-1"
					r.Resume = from
					r.OnCheckpoint = func(_ context.Context, cp *export.Checkpoint) error {
						mu.Lock()
						defer mu.Unlock()
						if at == nil && stop(cp) {
							at = cp
							cancel(export.ErrSuspend)
						}
						return nil
					}
				})
				if status.Code(err) != codes.Aborted || at == nil {
					t.Fatalf("suspended run returned %v, checkpoint %+v; want ABORTED after a checkpoint", err, at)
				}
				return at
			}
			first := suspend(nil, func(cp *export.Checkpoint) bool { return cp.Pages == 3 })
			second := suspend(first, func(cp *export.Checkpoint) bool {
				return cp.Cursor.Status == "revoked" && cp.Cursor.PageToken != ""
			})
			if second.Duplicates != 0 || second.Records >= clean.Records {
				t.Fatalf("suspended at %d records with %d duplicates: the app's second listing must come after the resume point", second.Records, second.Duplicates)
			}
			if second.Keys != second.Records || len(second.KeyParts) != int(second.Pages) || len(first.KeyParts) != 3 {
				t.Fatalf("checkpoints keep %d keys in %d parts after %d pages and %d records (first: %d parts); want a part a page, a key a record",
					second.Keys, len(second.KeyParts), second.Pages, second.Records, len(first.KeyParts))
			}

			resumed, err := e.run(context.Background(), b, spec, func(r *export.Runner) {
				r.CheckpointEvery = 1
				r.StagingID = "op-1"
				r.Resume = second
			})
			if err != nil {
				t.Fatal(err)
			}
			if resumed.Objects[0].Name != clean.Objects[0].Name || resumed.Records != clean.Records || resumed.Duplicates != 1 {
				t.Fatalf("resumed run wrote %s (%d records, %d duplicates), a clean run %s (%d records, 1 duplicate)",
					resumed.Objects[0].Name, resumed.Records, resumed.Duplicates, clean.Objects[0].Name, clean.Records)
			}
			for _, f := range files(t, dir) {
				if strings.HasPrefix(f, export.StagingPrefix) {
					t.Fatalf("staging left behind: %s", f)
				}
			}
		})
	}
}

// TestResumeRefusesCheckpointWithoutKeys: a checkpoint of version 1 has no
// keys, and resuming it could export a record twice, so it is refused.
func TestResumeRefusesCheckpointWithoutKeys(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 5, Seed: 1}, emulator.Options{})
	dir := t.TempDir()
	_, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Developers, formats.JSON, "file://"+dir), func(r *export.Runner) {
		r.Resume = &export.Checkpoint{Version: 1}
	})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "checkpoint version 1") {
		t.Fatalf("resuming a version 1 checkpoint returned %v, want FAILED_PRECONDITION", err)
	}
}
