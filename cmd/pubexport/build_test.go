package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// The binary built the way the Dockerfile builds it, shared by the tests
// that need a real process (static check, terminal).
var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildOut  []byte
)

func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pubexport-build-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "pubexport")
		// The Dockerfile's build step, word for word.
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", buildPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", buildErr, buildOut)
	}
	return buildPath
}

// TestStaticBuild is the CI check of the Dockerfile: the final image
// (distroless/static) has no dynamic loader and no libc, so the binary must
// have no PT_INTERP program header and no DT_NEEDED entries.
func TestStaticBuild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux; ELF checks only there")
	}
	f, err := elf.Open(buildBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has a PT_INTERP program header: it needs a dynamic loader")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) != 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
	if f.Section(".debug_info") != nil {
		t.Errorf("binary keeps DWARF: -ldflags=-s -w was not applied")
	}
	// And it runs: the image's ENTRYPOINT with its default CMD.
	out, err := exec.Command(buildPath, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("pubexport --help: %v\n%s", err, out)
	}
}
