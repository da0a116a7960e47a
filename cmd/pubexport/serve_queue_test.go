package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// TestServeMaxExports: serve --max-exports 1 runs one export and keeps the
// next NOT_STARTED with its place in line; --max-exports-per-org 2 refuses
// a third with RESOURCE_EXHAUSTED; all that were accepted end DONE.
func TestServeMaxExports(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	emu := startEmulator(t, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/apps") {
			select {
			case started <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return false
	}})
	url, _ := startServe(t, "--store", "file://"+t.TempDir(), "--allow-apigee-url", emu.URL, "--allow-destination", "file://",
		"--max-exports", "1", "--max-exports-per-org", "2")
	c := dial(t, url)
	first, err := c.Export(t.Context(), exportReq(emu, t.TempDir(), "apps", "json"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	second, err := c.Export(t.Context(), exportReq(emu, t.TempDir(), "apps", "json"))
	if err != nil {
		t.Fatal(err)
	}
	md := metadataOf(second)
	if md.GetState().String() != "NOT_STARTED" || !strings.HasPrefix(md.GetProgress().GetDescription(), "queued: number 1 of 1") {
		t.Errorf("second trigger: %v %q, want NOT_STARTED first in line", md.GetState(), md.GetProgress().GetDescription())
	}
	if _, err := c.Export(t.Context(), exportReq(emu, t.TempDir(), "apps", "json")); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("third trigger over --max-exports-per-org 2: %v, want RESOURCE_EXHAUSTED", err)
	}
	once.Do(func() { close(release) })
	for _, op := range []string{first.GetName(), second.GetName()} {
		if got := exporttest.Done(t, c, op); got.GetError() != nil {
			t.Errorf("%s: %v", op, got.GetError())
		}
	}
}
