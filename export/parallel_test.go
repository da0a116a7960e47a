package export_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
	"pubexport/formats"
)

// parallelEnv is an emulator with a little latency that records the apps
// list requests and the most that were in flight at once, and a client
// with pages of 50 apps and no rate limit, so that each apps pass has
// several pages and several spill chunks, and requests can overlap.
type parallelEnv struct {
	*env
	inFlight, most atomic.Int64
	mu             sync.Mutex
	requests       []string
	arrivals       []time.Time
}

func newParallelEnv(t *testing.T, opts emulator.Options) *parallelEnv {
	t.Helper()
	pe := &parallelEnv{}
	opts.Latency = 2 * time.Millisecond
	next := opts.Intercept
	opts.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/apps") {
			n := pe.inFlight.Add(1)
			defer pe.inFlight.Add(-1)
			for m := pe.most.Load(); n > m && !pe.most.CompareAndSwap(m, n); m = pe.most.Load() {
			}
			pe.mu.Lock()
			pe.requests = append(pe.requests, r.URL.RawQuery)
			pe.arrivals = append(pe.arrivals, time.Now())
			pe.mu.Unlock()
			time.Sleep(3 * time.Millisecond) // while counted in flight
		}
		return next != nil && next(w, r)
	}
	pe.env = newEnv(t, emulator.GenerateSpec{Developers: 40, Apps: 900, APIProducts: 5, Seed: 31}, opts)
	c, err := apigee.NewClient(context.Background(), apigee.WithBaseURL(pe.emu.URL), apigee.WithoutAuthentication(),
		apigee.WithPageSize(50), apigee.WithRetry(4, time.Millisecond, 10*time.Millisecond),
		apigee.WithRateLimit(0)) // 6000 a minute would space the requests 10 ms apart
	if err != nil {
		t.Fatal(err)
	}
	pe.src = export.FromClient(c)
	return pe
}

func (pe *parallelEnv) reset() []string {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	r := pe.requests
	pe.requests, pe.arrivals = nil, nil
	pe.most.Store(0)
	return r
}

// TestParallelPassesSameBytes: the apps passes read at once (up to 4
// requests in flight) give byte for byte the objects of a sequential run
// (--max-parallel-requests 1), in every format and compression, with the
// same checkpoints cut, the same counts, each page asked for once, never
// more requests in flight than the cap, and no staging (spills included)
// left behind.
func TestParallelPassesSameBytes(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	pe := newParallelEnv(t, emulator.Options{})
	for _, f := range []formats.Format{formats.JSON, formats.NDJSON, formats.CSV, formats.Parquet} {
		for _, z := range []string{"", "gzip"} {
			t.Run(string(f)+z, func(t *testing.T) {
				var bodies [2][]byte
				var results [2]*export.Result
				var requests [2][]string
				for i, parallel := range []int{1, 4} {
					dir := t.TempDir()
					spec := pe.spec(apigee.Apps, f, "file://"+dir)
					spec.Compression = formats.Compression(z)
					pe.reset()
					res, err := pe.run(context.Background(), openLocal(t, dir), spec, func(r *export.Runner) {
						r.MaxParallelRequests = parallel
						r.CheckpointEvery = 3
						r.OnCheckpoint = func(context.Context, *export.Checkpoint) error { return nil }
					})
					if err != nil {
						t.Fatal(err)
					}
					if most := pe.most.Load(); most > int64(parallel) {
						t.Errorf("max %d: %d apps requests in flight at once", parallel, most)
					} else if parallel > 1 && most < 2 {
						t.Errorf("max %d: the passes were not read at the same time (at most %d in flight)", parallel, most)
					}
					requests[i] = pe.reset()
					for _, name := range files(t, dir) {
						if strings.HasPrefix(name, export.StagingPrefix) {
							t.Fatalf("staging left behind: %s", name)
						}
					}
					if len(res.Objects) != 1 {
						t.Fatalf("%d objects", len(res.Objects))
					}
					b, err := os.ReadFile(filepath.Join(dir, res.Objects[0].Name))
					if err != nil {
						t.Fatal(err)
					}
					bodies[i], results[i] = b, res
				}
				s, p := results[0], results[1]
				if s.Objects[0].Name != p.Objects[0].Name || !bytes.Equal(bodies[0], bodies[1]) || s.Objects[0].CRC32C != p.Objects[0].CRC32C {
					t.Fatalf("parallel run wrote %s (%d bytes), sequential %s (%d bytes)", p.Objects[0].Name, len(bodies[1]), s.Objects[0].Name, len(bodies[0]))
				}
				if s.Records != int64(len(pe.data.Orgs[0].Apps)) || s.Records != p.Records || s.Pages != p.Pages || s.Duplicates != p.Duplicates {
					t.Fatalf("sequential %d records, %d pages, %d duplicates; parallel %d, %d, %d", s.Records, s.Pages, s.Duplicates, p.Records, p.Pages, p.Duplicates)
				}
				if len(requests[0]) != len(requests[1]) {
					t.Fatalf("sequential run made %d apps requests, parallel %d", len(requests[0]), len(requests[1]))
				}
			})
		}
	}
}

// TestParallelPassesCleanUp: spills go with the staging folder when an
// export fails (a later pass's page fails for good) or is cancelled while
// the passes are read ahead.
func TestParallelPassesCleanUp(t *testing.T) {
	var fail atomic.Bool
	pe := newParallelEnv(t, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		q := r.URL.Query()
		if fail.Load() && q.Get("status") == "revoked" && q.Get("keyStatus") == "approved" && q.Get("pageToken") != "" {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":403,"message":"revoked mid-export","status":"PERMISSION_DENIED"}}`))
			return true
		}
		return false
	}})
	t.Run("failure", func(t *testing.T) {
		fail.Store(true)
		defer fail.Store(false)
		dir := t.TempDir()
		_, err := pe.run(context.Background(), openLocal(t, dir), pe.spec(apigee.Apps, formats.NDJSON, "file://"+dir), nil)
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("got %v, want PERMISSION_DENIED", err)
		}
		if f := files(t, dir); len(f) != 0 {
			t.Fatalf("left behind: %v", f)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		var pages atomic.Int64
		_, err := pe.run(ctx, openLocal(t, dir), pe.spec(apigee.Apps, formats.JSON, "file://"+dir), func(r *export.Runner) {
			r.OnProgress = func(p export.Progress) {
				if p.Pages >= 3 && pages.Swap(p.Pages) < 3 {
					cancel()
				}
			}
		})
		if status.Code(err) != codes.Canceled {
			t.Fatalf("got %v, want CANCELLED", err)
		}
		if f := files(t, dir); len(f) != 0 {
			t.Fatalf("left behind: %v", f)
		}
	})
}

// TestParallelPassesResume: a parallel run suspended in a later pass (its
// pages read from the spill) and resumed from its last checkpoint writes
// the clean run's object.
func TestParallelPassesResume(t *testing.T) {
	pe := newParallelEnv(t, emulator.Options{})
	for _, c := range []struct {
		f formats.Format
		z string
	}{{formats.JSON, ""}, {formats.NDJSON, "gzip"}} {
		t.Run(string(c.f)+c.z, func(t *testing.T) {
			cleanDir := t.TempDir()
			spec := pe.spec(apigee.Apps, c.f, "file://"+cleanDir)
			spec.Compression = formats.Compression(c.z)
			clean, err := pe.run(context.Background(), openLocal(t, cleanDir), spec, func(r *export.Runner) {
				r.CheckpointEvery = 2
				r.MaxParallelRequests = 1
			})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			spec.Destination = "file://" + dir
			b := openLocal(t, dir)
			ctx, cancel := context.WithCancelCause(context.Background())
			var last *export.Checkpoint
			_, err = pe.run(ctx, b, spec, func(r *export.Runner) {
				r.CheckpointEvery = 2
				r.StagingID = "op-1"
				r.OnCheckpoint = func(_ context.Context, cp *export.Checkpoint) error {
					last = cp
					if cp.Cursor.Status == "approved" && cp.Cursor.KeyStatus == "revoked" && cp.Cursor.PageToken != "" {
						cancel(export.ErrSuspend) // inside the second pass
					}
					return nil
				}
			})
			if status.Code(err) != codes.Aborted || last == nil {
				t.Fatalf("suspended run returned %v, want ABORTED after a checkpoint", err)
			}
			resumed, err := pe.run(context.Background(), b, spec, func(r *export.Runner) {
				r.CheckpointEvery = 2
				r.StagingID = "op-1"
				r.Resume = last
			})
			if err != nil {
				t.Fatal(err)
			}
			resumedLikeClean(t, resumed, clean, dir)
		})
	}
}

// TestMaxParallelRequestsRefused: a cap outside 1 to 64 is INVALID_ARGUMENT
// naming it, before anything is written.
func TestMaxParallelRequestsRefused(t *testing.T) {
	pe := newParallelEnv(t, emulator.Options{})
	for _, n := range []int{-1, apigee.MaxParallelRequests + 1, 1 << 40} {
		dir := t.TempDir()
		_, err := pe.run(context.Background(), openLocal(t, dir), pe.spec(apigee.Apps, formats.JSON, "file://"+dir), func(r *export.Runner) { r.MaxParallelRequests = n })
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "maxParallelRequests") {
			t.Fatalf("%d: got %v, want INVALID_ARGUMENT naming maxParallelRequests", n, err)
		}
		if f := files(t, dir); len(f) != 0 {
			t.Fatalf("%d: wrote %v", n, f)
		}
	}
	if len(pe.reset()) != 0 {
		t.Fatal("a refused run asked Apigee for apps")
	}
}

// TestParallelPassesShareTheRateLimit: the passes read at once share the
// client's calls-a-minute limit: the apps requests of a parallel run reach
// the API no faster than the limit allows one client (here 3000 a minute,
// 20 ms apart after a burst of 5), as they would not if each pass had a
// limiter of its own.
func TestParallelPassesShareTheRateLimit(t *testing.T) {
	pe := newParallelEnv(t, emulator.Options{})
	c, err := apigee.NewClient(context.Background(), apigee.WithBaseURL(pe.emu.URL), apigee.WithoutAuthentication(),
		apigee.WithPageSize(50), apigee.WithRateLimit(3000))
	if err != nil {
		t.Fatal(err)
	}
	pe.src = export.FromClient(c)
	dir := t.TempDir()
	pe.reset()
	if _, err := pe.run(context.Background(), openLocal(t, dir), pe.spec(apigee.Apps, formats.NDJSON, "file://"+dir), func(r *export.Runner) { r.MaxParallelRequests = 8 }); err != nil {
		t.Fatal(err)
	}
	pe.mu.Lock()
	at := slices.Clone(pe.arrivals)
	pe.mu.Unlock()
	if pe.most.Load() < 2 {
		t.Fatalf("at most %d requests in flight: the passes were not read at once", pe.most.Load())
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	// The shared limiter lets the n calls go no faster than a burst of 5,
	// then one each 20 ms: the last at least (n-5) x 20 ms after the
	// first grant. 100 ms of slack covers a first request that reached the
	// API late; a limiter per pass (4 x 3000 a minute) would have let them
	// all through in a fraction of that.
	const burst, every, slack = 5, 20 * time.Millisecond, 100 * time.Millisecond
	if n := len(at); n > burst+10 {
		if d, least := at[n-1].Sub(at[0]), time.Duration(n-burst)*every-slack; d < least {
			t.Fatalf("%d requests reached the API within %v, the shared limit needs at least %v", n, d, least)
		}
	} else {
		t.Fatalf("only %d apps requests: too few to see the limit", n)
	}
}

// TestParallelPassesToCloudStorage: with the real storage client against
// fake-gcs-server, the passes read at once spill to staging objects in the
// bucket and the export publishes the object of a sequential run to a
// folder, leaving only the final object and the manifest.
func TestParallelPassesToCloudStorage(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	pe := newParallelEnv(t, emulator.Options{})
	srv := gcstest.Start(t, "exports")
	for _, z := range []string{"", "gzip"} {
		t.Run("ndjson"+z, func(t *testing.T) {
			dir := t.TempDir()
			spec := pe.spec(apigee.Apps, formats.NDJSON, "file://"+dir)
			spec.Compression = formats.Compression(z)
			local, err := pe.run(context.Background(), openLocal(t, dir), spec, func(r *export.Runner) { r.MaxParallelRequests = 1 })
			if err != nil {
				t.Fatal(err)
			}
			dest := "gs://exports/apps" + z
			spec.Destination = dest
			var spilled atomic.Bool
			b := spillWatch{openGCS(t, srv, dest), &spilled}
			remote, err := pe.run(context.Background(), b, spec, func(r *export.Runner) { r.MaxParallelRequests = 4 })
			if err != nil {
				t.Fatal(err)
			}
			if !spilled.Load() {
				t.Fatal("no spill object was written to the bucket")
			}
			if remote.Objects[0].Name != local.Objects[0].Name || remote.Records != local.Records {
				t.Fatalf("bucket got %s (%d records), sequential to a folder %s (%d)", remote.Objects[0].Name, remote.Records, local.Objects[0].Name, local.Records)
			}
			got := withoutSchema(t, formats.NDJSON, objects(t, srv, "exports", "apps"+z+"/"))
			if len(got) != 2 || got[0] != remote.Objects[0].Name || got[1] != remote.Manifest.Name {
				t.Fatalf("bucket holds %v, want the final and the manifest only", got)
			}
		})
	}
}

// spillWatch notes that a spill object was created.
type spillWatch struct {
	sink.Bucket
	spilled *atomic.Bool
}

func (b spillWatch) NewWriter(ctx context.Context, name string, a sink.Attrs) (sink.Writer, error) {
	if strings.Contains(name, "/spill-") {
		b.spilled.Store(true)
	}
	return b.Bucket.NewWriter(ctx, name, a)
}

// TestParallelPassReaderStopsAndListingReadsOn: when the reader of a later
// pass fails a page (here its four tries all get 503), it stops there and
// the listing reads the rest of that pass itself when it gets there: the
// export still writes the sequential run's object.
func TestParallelPassReaderStopsAndListingReadsOn(t *testing.T) {
	var failures atomic.Int64
	pe := newParallelEnv(t, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		q := r.URL.Query()
		if q.Get("status") == "revoked" && q.Get("keyStatus") == "approved" && q.Get("pageToken") != "" && failures.Add(1) <= 4 {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":503,"message":"try later","status":"UNAVAILABLE"}}`))
			return true
		}
		return false
	}})
	var names [2]string
	for i, parallel := range []int{4, 1} {
		dir := t.TempDir()
		res, err := pe.run(context.Background(), openLocal(t, dir), pe.spec(apigee.Apps, formats.NDJSON, "file://"+dir), func(r *export.Runner) { r.MaxParallelRequests = parallel })
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && failures.Load() < 4 {
			t.Fatalf("%d failed requests: the reader never met the fault", failures.Load())
		}
		if f := files(t, dir); slices.ContainsFunc(f, func(s string) bool { return strings.HasPrefix(s, export.StagingPrefix) }) {
			t.Fatalf("staging left behind: %v", f)
		}
		names[i] = res.Objects[0].Name
	}
	if names[0] != names[1] {
		t.Fatalf("parallel run with a stopped reader wrote %s, sequential %s", names[0], names[1])
	}
}
