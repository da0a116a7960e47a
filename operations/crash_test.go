package operations_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/api/option"

	"pubexport/operations"
	"pubexport/operations/store"
)

// Environment of the child process TestKillAndResume starts.
const (
	childEnv      = "PUBEXPORT_CRASH_CHILD" // the operation to run
	childStoreEnv = "PUBEXPORT_CRASH_STORE" // a folder, or the Cloud Storage emulator's URL
)

// TestCrashChild is the runner TestKillAndResume kills: it runs one
// operation until it is killed. It does nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	name := os.Getenv(childEnv)
	if name == "" {
		t.Skip("only run as the child of TestKillAndResume")
	}
	where := os.Getenv(childStoreEnv)
	var s store.Store
	var gcsOpts []option.ClientOption
	if strings.HasPrefix(where, "http://") {
		gcsOpts = []option.ClientOption{option.WithEndpoint(where + "/storage/v1/"), option.WithoutAuthentication()}
		s = store.GCS(newStorageClient(t, where).Bucket("exports"), "acme/.pubexport/")
	} else {
		var err error
		if s, err = store.Local(where); err != nil {
			t.Fatal(err)
		}
	}
	m, err := operations.New(context.Background(), operations.Config{
		Store: s, Open: openWith(gcsOpts), Holder: "child", CheckpointEvery: 2, LeaseDuration: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	op, err := m.Run(context.Background(), name)
	t.Fatalf("the child should have been killed, but its run ended: %v, %v", op, err)
}

// TestKillAndResume: a runner process is killed with SIGKILL after it
// recorded a checkpoint; once its lease lapses, Run in this process
// continues the same operation from the checkpoint, and the objects equal
// a clean run's.
func TestKillAndResume(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in the child")
	}
	for _, b := range []backend{local, gcs} {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			tr := newTraffic(t)
			e := newEnv(t, b, slowData, tr.options())
			ctx := context.Background()
			m := e.manager("parent")
			req := e.request("developers", "csv")
			op, err := m.Create(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			where := ""
			if b == gcs {
				where = e.gcs.URL
			} else {
				where = e.localStore
			}
			tr.holdAfter(holdPages)
			var out bytes.Buffer
			child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
			child.Env = append(os.Environ(), childEnv+"="+op.GetName(), childStoreEnv+"="+where)
			child.Stdout, child.Stderr = &out, &out
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- child.Wait() }()
			waitFor(t, "the child's first checkpoint", func() bool {
				select {
				case err := <-exited:
					t.Fatalf("the child ended before it was killed (%v):\n%s", err, out.String())
				default:
				}
				rec, _ := e.record(op.GetName())
				return rec.GetLeaseHolder() == "child" && len(rec.GetCheckpoint()) > 0
			})
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			tr.open()
			rec, _ := e.record(op.GetName())
			if got, _ := m.Get(ctx, op.GetName()); got.GetDone() || rec.GetLeaseHolder() != "child" {
				t.Fatalf("after the kill: done %v holder %q", got.GetDone(), rec.GetLeaseHolder())
			}
			// The lease (1s) must lapse before anyone else may run it.
			waitFor(t, "the child's lease to lapse", func() bool { return time.Now().After(rec.GetLeaseExpires().AsTime()) })

			before := tr.pages()
			done, err := m.Run(ctx, op.GetName())
			if err != nil {
				t.Fatal(err)
			}
			resumedPages := tr.pages() - before
			resp := e.checkResponse(done, len(e.data.Orgs[0].Developers))
			if rec, _ := e.record(op.GetName()); rec.GetAttempts() != 2 {
				t.Fatalf("attempts %d, want 2", rec.GetAttempts())
			}
			if s := e.staging(); len(s) != 0 {
				t.Fatalf("staging left: %v", s)
			}
			if b == local {
				// Nothing else on disk: not even the temporary file the killed
				// child was writing.
				filepath.WalkDir(strings.TrimPrefix(e.dest, "file://"), func(p string, d os.DirEntry, err error) error {
					switch {
					case err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "ExportFinal_") || strings.HasPrefix(d.Name(), "ExportManifest_"):
					case strings.Contains(p, "/LATEST/") && strings.HasSuffix(p, ".json"): // the latest-export pointer
					default:
						t.Errorf("left on disk: %s", p)
					}
					return nil
				})
			}

			tr.sameAsCleanRun(ctx, e, m, req, resp, resumedPages)
		})
	}
}
