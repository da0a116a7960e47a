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
	"google.golang.org/protobuf/proto"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/formats"
)

// checkWait bounds how long the emulator holds an organization read in
// these tests while waiting for list requests: a liveness bound, so that
// a run that lists only after the check fails its test instead of hanging.
const checkWait = 10 * time.Second

const orgPath = "/v1/organizations/acme"

// TestFirstPageOverlapsTheOrganizationCheck: the organization check and
// the first page request are both a round trip to Apigee, so they go out
// together. The emulator holds the organization read until the first page
// has been asked for; a run that checked first would not list meanwhile.
func TestFirstPageOverlapsTheOrganizationCheck(t *testing.T) {
	listed := make(chan struct{})
	var once sync.Once
	var overlapped atomic.Bool
	e := newEnv(t, emulator.GenerateSpec{Developers: 30, Seed: 3}, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, "/developers"):
			once.Do(func() { close(listed) })
		case r.URL.Path == orgPath:
			select {
			case <-listed:
				overlapped.Store(true)
			case <-time.After(checkWait):
			}
		}
		return false
	}})
	dir := t.TempDir()
	res, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Developers, formats.JSON, "file://"+dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !overlapped.Load() {
		t.Fatal("the first page was not asked for while the organization check was under way")
	}
	if res.Records != 30 {
		t.Fatalf("exported %d developers, want 30", res.Records)
	}
}

// TestNothingWrittenBeforeTheOrganizationCheck: pages may be read while
// the organization check is under way, but nothing is written until it
// passes: when it fails (the organization is not found), after the apps
// passes have been served their first pages, the folder stays empty (no
// staging part, no spilled page) and the check's own error is reported.
func TestNothingWrittenBeforeTheOrganizationCheck(t *testing.T) {
	var served atomic.Int32
	e := newEnv(t, emulator.GenerateSpec{Apps: 400, Developers: 40, Seed: 5}, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, "/apps"):
			served.Add(1)
		case r.URL.Path == orgPath:
			for deadline := time.Now().Add(checkWait); served.Load() < 4 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":404,"message":"Organization acme not found","status":"NOT_FOUND"}}`))
			return true
		}
		return false
	}})
	dir := t.TempDir()
	spec := e.spec(apigee.Apps, formats.JSON, "file://"+dir)
	_, err := e.run(context.Background(), openLocal(t, dir), spec, nil)
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `organization "acme" not found`) {
		t.Fatalf("got %v, want NOT_FOUND from the organization check", err)
	}
	if n := served.Load(); n < 2 {
		t.Fatalf("only %d apps pages were asked for while the check was under way: the test did not overlap them", n)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("a failed organization check left %v", got)
	}
}

// TestAppsProbesGoOutWithTheFirstPage: the one-app requests that learn
// the other apps passes' totals (for the progress percentage) go out with
// the first page when the passes are read at once, not a round trip each
// before it; with one request at a time they still come first.
func TestAppsProbesGoOutWithTheFirstPage(t *testing.T) {
	for _, parallel := range []int{4, 1} {
		firstPage := make(chan struct{})
		var once sync.Once
		var probes, overlapped atomic.Int32
		// Sequential probes never see the first page: they wait briefly.
		wait := checkWait
		if parallel == 1 {
			wait = 300 * time.Millisecond
		}
		e := newEnv(t, emulator.GenerateSpec{Apps: 300, Developers: 30, Seed: 9}, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/apps") {
				return false
			}
			q := r.URL.Query()
			switch {
			case q.Get("pageSize") == "1":
				probes.Add(1)
				select {
				case <-firstPage:
					overlapped.Add(1)
				case <-time.After(wait):
				}
			case q.Get("pageToken") == "" && q.Get("status") == "approved" && q.Get("keyStatus") == "approved":
				once.Do(func() { close(firstPage) })
			}
			return false
		}})
		dir := t.TempDir()
		res, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Apps, formats.NDJSON, "file://"+dir), func(r *export.Runner) {
			r.MaxParallelRequests = parallel
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Records != 300 {
			t.Fatalf("parallel %d: exported %d apps, want 300", parallel, res.Records)
		}
		if probes.Load() != 3 {
			t.Fatalf("parallel %d: %d probes, want 3 (one for each other pass)", parallel, probes.Load())
		}
		switch n := overlapped.Load(); {
		case parallel > 1 && n != 3:
			t.Errorf("parallel %d: %d of 3 probes went out with the first page, want all", parallel, n)
		case parallel == 1 && n != 0:
			t.Errorf("one request at a time: %d probes went out after the first page, want them first", n)
		}
	}
}

// TestOrganizationReadDenied: reading the organization (organizations.get)
// is not among the methods an export needs, so a principal denied it but
// allowed the lists exports everything.
func TestOrganizationReadDenied(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Apps: 300, Developers: 30, Seed: 7}, emulator.Options{Deny: []string{"apigee.organizations.get"}})
	for _, r := range []apigee.Resource{apigee.Developers, apigee.Apps} {
		dir := t.TempDir()
		res, err := e.run(context.Background(), openLocal(t, dir), e.spec(r, formats.NDJSON, "file://"+dir), nil)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if want := map[apigee.Resource]int64{apigee.Developers: 30, apigee.Apps: 300}[r]; res.Records != want {
			t.Fatalf("exported %d %s, want %d", res.Records, r, want)
		}
	}

	// Denied the list as well: PERMISSION_DENIED naming the permission
	// (the API's words) and the fix, and nothing written.
	e = newEnv(t, emulator.GenerateSpec{Developers: 30, Seed: 7}, emulator.Options{Deny: []string{"apigee.organizations.get", "apigee.developers.list"}})
	dir := t.TempDir()
	_, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Developers, formats.NDJSON, "file://"+dir), nil)
	exporttest.Code(t, err, codes.PermissionDenied, `organization "acme"`, "apigee.developers.list", "roles/apigee.readOnlyAdmin")
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("a denied listing left %v", got)
	}
}

// TestOrganizationReadDeniedFirstPageDecides: with the organization read
// denied, the first page is the organization check: when the apps list is
// denied too, the export fails PERMISSION_DENIED with the API's message
// (naming the permission) and the fix, and writes nothing (no spilled
// page of the later passes either). When the first apps pass is empty,
// its first page comes from a later pass read ahead, which proves the
// listing as well: the export finishes instead of waiting for itself.
func TestOrganizationReadDeniedFirstPageDecides(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Apps: 300, Developers: 30, Seed: 5}, emulator.Options{Deny: []string{"apigee.organizations.get", "apigee.apps.list"}})
	dir := t.TempDir()
	_, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Apps, formats.JSON, "file://"+dir), nil)
	exporttest.Code(t, err, codes.PermissionDenied, `organization "acme"`, "apigee.apps.list", "roles/apigee.readOnlyAdmin")
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("a denied first page left %v", got)
	}

	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Apps: 60, Developers: 6, Seed: 5})
	for _, a := range data.Orgs[0].Apps {
		a.Status = proto.String("revoked") // none in the first pass (approved apps)
	}
	emu := exporttest.Emulator(t, data, emulator.Options{Deny: []string{"apigee.organizations.get"}})
	src := export.FromClient(exporttest.ApigeeClient(t, emu))
	dir = t.TempDir()
	spec := export.Spec{Org: "acme", Resource: apigee.Apps, Format: formats.NDJSON, Destination: "file://" + dir, ApigeeURL: emu.URL}
	res, err := (&export.Runner{Source: src, Bucket: openLocal(t, dir), MaxParallelRequests: 4}).Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 60 {
		t.Fatalf("exported %d apps, want 60", res.Records)
	}
}

// TestOrganizationReadDeniedResume: a resumed run reads its staging
// objects before its first page, so it waits only for the organization
// check's answer, not for the first page that stands in for it: a run
// resumed with the organization read denied finishes.
func TestOrganizationReadDeniedResume(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 30, Seed: 8})
	emu := exporttest.Emulator(t, data, emulator.Options{Deny: []string{"apigee.organizations.get"}})
	src := export.FromClient(exporttest.ApigeeClient(t, emu, apigee.WithPageSize(10)))
	dir := t.TempDir()
	b := openLocal(t, dir)
	spec := export.Spec{Org: "acme", Resource: apigee.Developers, Format: formats.NDJSON, Destination: "file://" + dir, ApigeeURL: emu.URL}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var first *export.Checkpoint
	_, err := (&export.Runner{Source: src, Bucket: b, CheckpointEvery: 1, StagingID: "op-1", OnCheckpoint: func(_ context.Context, cp *export.Checkpoint) error {
		if first == nil {
			first = cp
			cancel(export.ErrSuspend)
		}
		return nil
	}}).Run(ctx, spec)
	if status.Code(err) != codes.Aborted || first == nil {
		t.Fatalf("suspended run: %v (checkpoint %v), want ABORTED after a checkpoint", err, first != nil)
	}
	res, err := (&export.Runner{Source: src, Bucket: b, CheckpointEvery: 1, StagingID: "op-1", Resume: first}).Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if res.Records != 30 {
		t.Fatalf("resumed run exported %d developers, want 30", res.Records)
	}
}
