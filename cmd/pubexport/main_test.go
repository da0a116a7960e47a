package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/encoding/protojson"

	"pubexport/export/apigee/emulator"
	"pubexport/export/testcheck"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a command
// and the reads of a test polling for a line.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testApp runs the CLI in-process with captured output, a fake environment
// and a signal channel the test sends to.
type testApp struct {
	*app
	stdout, stderr *syncBuffer
	env            map[string]string
	sig            chan os.Signal
	mu             sync.Mutex
	hardExits      []int
	// onSubscribe, when set, runs as the command subscribes to signals.
	onSubscribe func()
}

func newTestApp(env map[string]string) *testApp {
	ta := &testApp{stdout: &syncBuffer{}, stderr: &syncBuffer{}, env: env, sig: make(chan os.Signal, 2)}
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

// waitFor polls cond until it holds (testcheck.Eventually).
var waitFor = testcheck.Eventually

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
	emu, err := emulator.Start(emulator.Sample(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return emu
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
