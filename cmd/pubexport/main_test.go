package main

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/encoding/protojson"

	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink/gcstest"
)

// testApp runs the CLI in-process with captured output, a fake environment
// and a signal channel the test sends to.
type testApp struct {
	*app
	stdout, stderr *exporttest.Buffer
	env            map[string]string
	sig            chan os.Signal
	mu             sync.Mutex
	hardExits      []int
	// onSubscribe, when set, runs as the command subscribes to signals.
	onSubscribe func()
}

func newTestApp(env map[string]string) *testApp {
	ta := &testApp{stdout: &exporttest.Buffer{}, stderr: &exporttest.Buffer{}, env: env, sig: make(chan os.Signal, 2)}
	if ta.env == nil {
		ta.env = map[string]string{}
	}
	ta.app = &app{
		stdout: ta.stdout,
		stderr: ta.stderr,
		getenv: func(k string) string { return ta.env[k] },
		environ: func() []string {
			var kv []string
			for k, v := range ta.env {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
		signals: func() (<-chan os.Signal, func()) {
			if ta.onSubscribe != nil {
				ta.onSubscribe()
			}
			return ta.sig, func() {}
		},
		hardExit: func(code int) {
			ta.mu.Lock()
			ta.hardExits = append(ta.hardExits, code)
			ta.mu.Unlock()
		},
	}
	return ta
}

func (ta *testApp) exits() []int {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return append([]int(nil), ta.hardExits...)
}

func (ta *testApp) run(ctx context.Context, args ...string) int {
	return execute(ctx, ta.app, args)
}

// waitFor polls cond until it holds (exporttest.Eventually).
var waitFor = exporttest.Eventually

// exportFiles lists the ExportFinal_ and ExportManifest_ files under dir.
func exportFiles(t *testing.T, dir string) (finals, manifests []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(d.Name(), "ExportFinal_"):
			finals = append(finals, p)
		case strings.HasPrefix(d.Name(), "ExportManifest_"):
			manifests = append(manifests, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return finals, manifests
}

// stagingLeft lists files left in staging folders under dir.
func stagingLeft(t *testing.T, dir string) []string {
	t.Helper()
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, ".pubexport-staging") {
			left = append(left, p)
		}
		return nil
	})
	return left
}

func parseOps(t *testing.T, s string) []*longrunningpb.Operation {
	t.Helper()
	var resp longrunningpb.ListOperationsResponse
	if err := protojson.Unmarshal([]byte(s), &resp); err != nil {
		t.Fatalf("output is not a JSON ListOperationsResponse: %v\n%s", err, s)
	}
	return resp.GetOperations()
}

// logLines decodes JSON log lines, failing on any line that is not JSON.
func logLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %v\n%s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// startEmulator serves the sample organization (acme) on loopback.
func startEmulator(t *testing.T, o emulator.Options) *emulator.Server {
	t.Helper()
	emu := exporttest.Emulator(t, emulator.Sample(), o)
	return emu
}

// startGCS runs a Cloud Storage emulator holding buckets; gcsEnv points a
// command at it.
func startGCS(t *testing.T, buckets ...string) *gcstest.Server {
	t.Helper()
	return gcstest.Start(t, buckets...)
}

// gcsEnv is a copy of env (nil: none) with STORAGE_EMULATOR_HOST naming
// srv, the way a command is pointed at an emulator outside tests. Commands
// read it from their own environment (storageOptions), not the process's,
// so tests that use it run in parallel.
func gcsEnv(srv *gcstest.Server, env map[string]string) map[string]string {
	out := maps.Clone(env)
	if out == nil {
		out = map[string]string{}
	}
	out[storageEmulatorVar] = srv.Host
	return out
}

// blockAppsList is an emulator hook whose app listing never answers (until
// the client gives up), so an apps export stays running; it signals started
// at the first such request.
func blockAppsList(started chan<- struct{}) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/apps") {
			return false
		}
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		return true
	}
}

// stallableEmulator serves the sample organization; once blocking is set,
// its apps listing never answers (see blockAppsList), and started receives
// a value at the first such request.
func stallableEmulator(t *testing.T) (emu *emulator.Server, blocking *atomic.Bool, started <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{}, 1)
	blocking = new(atomic.Bool)
	block := blockAppsList(ch)
	emu = startEmulator(t, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		return blocking.Load() && block(w, r)
	}})
	return emu, blocking, ch
}
