package main

import (
	"net/http"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"pubexport/export/apigee/emulator"
	"pubexport/export/sink/gcstest"
)

// finalNames returns the base names of the ExportFinal_ objects under
// prefix (their names carry the SHA-256 of their bytes).
func finalNames(t *testing.T, srv *gcstest.Server, bucket, prefix string) []string {
	t.Helper()
	var out []string
	for _, o := range srv.Objects(t, bucket) {
		if strings.HasPrefix(o, prefix) && strings.HasPrefix(path.Base(o), "ExportFinal_") {
			out = append(out, path.Base(o))
		}
	}
	slices.Sort(out)
	return out
}

// cleanRun runs pubexport with env and args and nothing in the way: the objects a
// run that met faults must end up with too. It fails the test unless the
// run succeeds.
func cleanRun(t *testing.T, env map[string]string, args ...string) {
	t.Helper()
	clean := newTestApp(env)
	if code := clean.run(t.Context(), args...); code != 0 {
		t.Fatalf("clean run: exit %d\n%s", code, clean.stderr)
	}
}

// recordWrite matches the start of an upload of an operation record.
func recordWrite(r *http.Request) bool {
	return gcstest.ObjectInserts(r) && strings.HasPrefix(r.URL.Query().Get("name"), ".pubexport/operations/")
}

// TestRunStoreOnFlakyCloudStorage: with the operation store on Cloud
// Storage and every third storage request failing with 503 (before the
// emulator sees it), `run` ends with exit 0 and the clean run's objects,
// every time: record writes are retried like data writes.
func TestRunStoreOnFlakyCloudStorage(t *testing.T) {
	t.Parallel()
	srv := startGCS(t, "acme-exports")
	args := func(to string) []string {
		return []string{"run", "--to", "gs://acme-exports/" + to, "--resource", "apps,developers", "--format", "ndjson"}
	}
	cleanRun(t, gcsEnv(srv, nil), args("clean")...)
	want := finalNames(t, srv, "acme-exports", "clean/")
	if len(want) != 2 {
		t.Fatalf("clean run objects: %v", want)
	}

	faults := gcstest.FailEvery(3, http.StatusServiceUnavailable)
	// Cloud Storage answers testIamPermissions (the emulator does not).
	srv.Use(faults.Middleware, srv.AnswerTestPermissions("storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list"))
	for i := range 3 {
		to := "flaky" + string(rune('a'+i))
		ta := newTestApp(gcsEnv(srv, nil))
		if code := ta.run(t.Context(), args(to)...); code != 0 {
			t.Fatalf("run %d with 503 on every third request: exit %d\n%s", i, code, ta.stderr)
		}
		if got := finalNames(t, srv, "acme-exports", to+"/"); !slices.Equal(got, want) {
			t.Errorf("run %d: objects %v, want the clean run's %v", i, got, want)
		}
	}
	if faults.Injected() == 0 {
		t.Fatal("no fault was injected")
	}
}

// TestRunEndNotRecorded: when the store stops taking writes after the
// export started, `run` does not poll forever for an operation nobody
// runs: it exits non-zero soon after the export ends, printing the
// resume command, and `operations resume` later finishes the operation
// with the clean run's objects.
func TestRunEndNotRecorded(t *testing.T) {
	t.Parallel()
	srv := startGCS(t, "acme-exports")
	emu := startEmulator(t, emulator.Options{})
	args := func(to string) []string {
		return []string{"run", "--org", "acme", "--apigee-url", emu.URL, "--to", "gs://acme-exports/" + to, "--resource", "apps", "--format", "ndjson"}
	}
	cleanRun(t, gcsEnv(srv, nil), args("clean")...)
	want := finalNames(t, srv, "acme-exports", "clean/")

	// Record writes succeed for the create and the lease, then fail.
	var writes atomic.Int64
	srv.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if recordWrite(r) && writes.Add(1) > 2 {
				gcstest.WriteError(w, http.StatusServiceUnavailable, "gcstest: record writes are down")
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ta := newTestApp(gcsEnv(srv, shortLease()))
	start := time.Now()
	code := ta.run(t.Context(), args("down")...)
	took := time.Since(start)
	if code == 0 {
		t.Fatalf("run exited 0 although its end was not recorded\n%s", ta.stderr)
	}
	m := regexp.MustCompile(`pubexport operations resume (\S+) --store (\S+)`).FindStringSubmatch(ta.stderr.String())
	if m == nil {
		t.Fatalf("run (exit %d after %v) does not print the resume command:\n%s", code, took, ta.stderr)
	}
	t.Logf("run exited %d after %v:\n%s", code, took, ta.stderr)

	srv.Use()
	res := newTestApp(gcsEnv(srv, shortLease()))
	if code := res.run(t.Context(), "operations", "resume", m[1], "--store", m[2]); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, res.stderr)
	}
	if got := finalNames(t, srv, "acme-exports", "down/"); !slices.Equal(got, want) {
		t.Errorf("after resume: objects %v, want the clean run's %v", got, want)
	}
}

// TestRunSignalWhileStorageFails: SIGTERM ends `run` within 15 s while the
// Cloud Storage endpoint of its operation store (and destination) answers
// nothing but 404s, or accepts requests and never answers; once storage
// is back, `operations resume` finishes the operation with the clean
// run's objects.
//
// With no signal at all ("unsignalled"), a store answering only 404s (a
// storage fault, not a missing operation: this process created it) ends
// the watch: `run` exits non-zero and says how to resume all the same,
// since the export stays as last recorded.
func TestRunSignalWhileStorageFails(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"404", "hang", "unsignalled"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startGCS(t, "acme-exports")
			emu, blocking, started := stallableEmulator(t)
			args := func(to string) []string {
				return []string{"run", "--org", "acme", "--apigee-url", emu.URL, "--to", "gs://acme-exports/" + to, "--resource", "apps", "--format", "ndjson"}
			}
			cleanRun(t, gcsEnv(srv, nil), args("clean")...)
			want := finalNames(t, srv, "acme-exports", "clean/")

			var failing atomic.Bool
			release := make(chan struct{})
			srv.Use(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !failing.Load() {
						next.ServeHTTP(w, r)
						return
					}
					if mode != "hang" {
						gcstest.WriteError(w, http.StatusNotFound, "No such object")
						return
					}
					select {
					case <-release:
					case <-r.Context().Done():
					}
					gcstest.WriteError(w, http.StatusServiceUnavailable, "gcstest: was hanging")
				})
			})
			defer close(release)

			blocking.Store(true)
			ta := newTestApp(gcsEnv(srv, shortLease()))
			done := make(chan int, 1)
			go func() { done <- ta.run(t.Context(), args("x")...) }()
			<-started
			failing.Store(true)
			if mode == "unsignalled" {
				if code := <-done; code == 0 {
					t.Fatalf("run exited 0 although its operation could not be read:\n%s", ta.stderr)
				}
			} else {
				time.Sleep(1500 * time.Millisecond) // a lease renewal meets the failure
				sent := time.Now()
				ta.sig <- syscall.SIGTERM
				select {
				case code := <-done:
					t.Logf("exit %d %v after SIGTERM:\n%s", code, time.Since(sent), ta.stderr)
				case <-time.After(15 * time.Second):
					t.Fatalf("run still going 15 s after SIGTERM with storage answering %s:\n%s", mode, ta.stderr)
				}
			}
			name := startedName(t, ta.stderr.String(), "apps")
			if want := "pubexport operations resume " + name; !strings.Contains(ta.stderr.String(), want) {
				t.Errorf("stderr does not say how to resume (%s)", want)
			}

			failing.Store(false)
			blocking.Store(false)
			res := newTestApp(gcsEnv(srv, shortLease()))
			if code := res.run(t.Context(), "operations", "resume", name, "--store", "gs://acme-exports/.pubexport/operations"); code != 0 {
				t.Fatalf("resume: exit %d\n%s", code, res.stderr)
			}
			if got := finalNames(t, srv, "acme-exports", "x/"); !slices.Equal(got, want) {
				t.Errorf("after resume: objects %v, want the clean run's %v", got, want)
			}
		})
	}
}

// TestServeSignalWhileStorageHangs: SIGTERM ends `serve` within 15 s while
// its operation store's Cloud Storage endpoint accepts requests and never
// answers, with an export running; the export stays resumable and
// `operations resume` finishes it with the clean run's objects.
func TestServeSignalWhileStorageHangs(t *testing.T) {
	t.Parallel()
	srv := startGCS(t, "acme-exports")
	emu, blocking, started := stallableEmulator(t)
	cleanDir, dir := t.TempDir(), t.TempDir()
	cleanRun(t, gcsEnv(srv, nil), "run", "--org", "acme", "--apigee-url", emu.URL, "--to", cleanDir, "--resource", "apps", "--format", "ndjson")
	want, _ := exportFiles(t, cleanDir)

	hanging := hangStorage(t, srv)

	storeURI := "gs://acme-exports/ops"
	url, ta, done := launchServe(t, gcsEnv(srv, shortLease()), "--store", storeURI, "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	blocking.Store(true)
	c := dial(t, url)
	req := exportReq(emu, dir, "apps", "ndjson")
	op, err := c.Export(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	hanging.Store(true)
	sent := time.Now()
	ta.sig <- syscall.SIGTERM
	select {
	case code := <-done:
		t.Logf("serve exited %d %v after SIGTERM", code, time.Since(sent))
	case <-time.After(15 * time.Second):
		t.Fatalf("serve still running 15 s after SIGTERM with storage hanging:\n%s", ta.stdout)
	}

	hanging.Store(false)
	blocking.Store(false)
	res := newTestApp(gcsEnv(srv, shortLease()))
	if code := res.run(t.Context(), "operations", "resume", op.GetName(), "--store", storeURI); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, res.stderr)
	}
	got, _ := exportFiles(t, dir)
	if len(got) != 1 || len(want) != 1 || filepath.Base(got[0]) != filepath.Base(want[0]) {
		t.Errorf("after resume: %v, want the clean run's %v", got, want)
	}
}

// TestJobSignalWhileStorageHangs: SIGTERM ends a `job` task within 15 s
// while the Cloud Storage endpoint of its operation store hangs; the
// retried task resumes the operation and finishes it with the clean run's
// objects.
func TestJobSignalWhileStorageHangs(t *testing.T) {
	t.Parallel()
	srv := startGCS(t, "acme-exports")
	emu, blocking, started := stallableEmulator(t)
	cleanDir, dir := t.TempDir(), t.TempDir()
	cleanRun(t, gcsEnv(srv, nil), "run", "--org", "acme", "--apigee-url", emu.URL, "--to", cleanDir, "--resource", "apps")
	want, _ := exportFiles(t, cleanDir)

	hanging := hangStorage(t, srv)
	env := jobEnv(emu, dir, map[string]string{"PUBEXPORT_RESOURCES": "apps", "CLOUD_RUN_EXECUTION": "pubexport-h4ng",
		"PUBEXPORT_STORE": "gs://acme-exports/ops", leaseVar: "6s"})
	blocking.Store(true)
	ta := newTestApp(gcsEnv(srv, env))
	done := make(chan int, 1)
	go func() { done <- ta.run(t.Context(), "job") }()
	<-started
	hanging.Store(true)
	sent := time.Now()
	ta.sig <- syscall.SIGTERM
	select {
	case code := <-done:
		if code == 0 {
			t.Errorf("job exited 0 after SIGTERM with its export suspended")
		}
		t.Logf("job exited %d %v after SIGTERM", code, time.Since(sent))
	case <-time.After(15 * time.Second):
		t.Fatalf("job still running 15 s after SIGTERM with storage hanging:\n%s", ta.stdout)
	}

	hanging.Store(false)
	blocking.Store(false)
	env["CLOUD_RUN_TASK_ATTEMPT"] = "1"
	retry := newTestApp(gcsEnv(srv, env))
	if code := retry.run(t.Context(), "job"); code != 0 {
		t.Fatalf("retry: exit %d\n%s", code, retry.stdout)
	}
	got, _ := exportFiles(t, dir)
	if len(got) != 1 || len(want) != 1 || filepath.Base(got[0]) != filepath.Base(want[0]) {
		t.Errorf("after the retry: %v, want the clean run's %v", got, want)
	}
}

// shortLease is the environment of a run whose operation another process
// resumes after a stop the store could not record: the resume waits for
// the dead runner's lease to lapse, so a 6 s lease (long enough for a
// loaded machine to renew it) keeps these tests from waiting out the
// default.
func shortLease() map[string]string { return map[string]string{"PUBEXPORT_LEASE": "6s"} }

// hangStorage makes srv, once hanging is set, take every request and answer
// none until the request is given up (or the test ends, then with 503).
func hangStorage(t *testing.T, srv *gcstest.Server) (hanging *atomic.Bool) {
	hanging = new(atomic.Bool)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hanging.Load() {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				gcstest.WriteError(w, http.StatusServiceUnavailable, "gcstest: was hanging")
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	return hanging
}
