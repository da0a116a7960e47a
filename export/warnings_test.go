package export_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
	"pubexport/formats"
)

func readManifest(t *testing.T, dir string, res *export.Result) export.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, res.Manifest.Name))
	if err != nil {
		t.Fatal(err)
	}
	var m export.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func hasWarning(ws []string, parts ...string) bool {
	return slices.ContainsFunc(ws, func(w string) bool {
		for _, p := range parts {
			if !strings.Contains(w, p) {
				return false
			}
		}
		return true
	})
}

// TestUnknownFieldsInResultAndManifest: each unknown field path and enum
// value Apigee sends is named with its count in the result and the
// manifest, not only counted.
func TestUnknownFieldsInResultAndManifest(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{APIProducts: 40, Seed: 3}, emulator.Options{FutureFields: true})
	dir := t.TempDir()
	res, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.APIProducts, formats.NDJSON, "file://"+dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, dir, res)
	for _, ws := range [][]string{res.Warnings, m.Warnings} {
		if !hasWarning(ws, `"apiProduct.futureField"`, "(40 times)") || !hasWarning(ws, `"API_SOURCE"`, `"apiProduct.quotaCounterScope"`) {
			t.Errorf("warnings %q do not name the unknown field and enum value with counts", ws)
		}
	}
}

// TestAppsTotalMismatchWarned: a developer deleted (with its apps) while
// the apps are paged makes the apps read differ from the totalSize the API
// reports; the export says so with both numbers and the difference.
func TestAppsTotalMismatchWarned(t *testing.T) {
	spec := emulator.GenerateSpec{Org: "acme", Developers: 50, Apps: 1500, Seed: 21}
	data := emulator.Generate(spec)
	var victim string
	for _, a := range data.Orgs[0].Apps {
		if a.GetStatus() == "approved" && a.GetDeveloperEmail() != "" {
			victim = a.GetDeveloperEmail()
			break
		}
	}
	var base atomic.Value
	var deleted atomic.Bool
	opts := emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		// When the second approved page is asked for, the first (with
		// the victim's first app) has been read.
		if r.URL.Query().Get("pageToken") != "" && !deleted.Swap(true) {
			req, _ := http.NewRequest(http.MethodDelete, base.Load().(string)+"/developers/"+url.PathEscape(victim), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				panic(fmt.Sprintf("deleting %s: %v %v", victim, resp, err))
			}
			resp.Body.Close()
		}
		return false
	}}
	e := newEnv(t, spec, opts)
	base.Store(e.emu.URL + "/v1/organizations/acme")
	dir := t.TempDir()
	res, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Apps, formats.JSON, "file://"+dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !deleted.Load() {
		t.Fatal("the apps were read in one page; nothing was deleted")
	}
	m := readManifest(t, dir, res)
	for _, ws := range [][]string{res.Warnings, m.Warnings} {
		if !hasWarning(ws, fmt.Sprintf("read %s apps", thousands(res.Records)), "more than", "totalSize") {
			t.Errorf("warnings %q do not say that %d apps read exceed the total", ws, res.Records)
		}
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	if len(s) > 3 {
		s = s[:len(s)-3] + "," + s[len(s)-3:]
	}
	return s
}

// TestProgressWaitingOnApigee: while a page is slow to come, progress says
// how long the export has been waiting on Apigee; once it comes, it does
// not.
func TestProgressWaitingOnApigee(t *testing.T) {
	var slowed atomic.Bool
	said := make(chan struct{}) // closed once progress says it is waiting
	opts := emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/developers") && !slowed.Swap(true) {
			// The first page comes once progress has said so (bounded:
			// without the notice, the check below fails).
			select {
			case <-said:
			case <-time.After(10 * time.Second):
			}
		}
		return false
	}}
	e := newEnv(t, emulator.GenerateSpec{Developers: 30, Seed: 2}, opts)
	dir := t.TempDir()
	var seen []export.Progress
	_, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Developers, formats.CSV, "file://"+dir), func(r *export.Runner) {
		r.OnProgress = func(p export.Progress) {
			if p.Waiting >= 2*time.Second && p.Records == 0 && !slices.ContainsFunc(seen, func(p export.Progress) bool { return p.Waiting >= 2*time.Second }) {
				close(said)
			}
			seen = append(seen, p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	waited := slices.ContainsFunc(seen, func(p export.Progress) bool { return p.Waiting >= 2*time.Second && p.Records == 0 })
	if !waited {
		t.Errorf("no progress said it was waiting on Apigee: %+v", seen)
	}
	if last := seen[len(seen)-1]; last.Waiting != 0 {
		t.Errorf("last progress %+v still waiting", last)
	}
}

// TestExportAgainstAPIThatNeverAnswers: an Apigee endpoint that accepts
// requests and never answers ends the export with DEADLINE_EXCEEDED once
// the retry budget (short here; 2 minutes by default) is spent, instead of
// waiting forever, and leaves nothing behind.
func TestExportAgainstAPIThatNeverAnswers(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 3, Seed: 1})
	emu := exporttest.Emulator(t, data, emulator.Options{Hang: true})
	c := exporttest.ApigeeClient(t, emu,
		apigee.WithTimeout(200*time.Millisecond), apigee.WithRetryBudget(time.Second), apigee.WithRetry(0, 10*time.Millisecond, 50*time.Millisecond))
	dir := t.TempDir()
	done := make(chan error, 1)
	go func() {
		_, err := (&export.Runner{Source: export.FromClient(c), Bucket: openLocal(t, dir)}).Run(context.Background(),
			export.Spec{Org: "acme", Resource: apigee.Developers, Format: formats.JSON, Destination: "file://" + dir, ApigeeURL: emu.URL})
		done <- err
	}()
	select {
	case err := <-done:
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("got %v, want DEADLINE_EXCEEDED", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the export still waits after 30s")
	}
	if f := files(t, dir); len(f) != 0 {
		t.Fatalf("left behind: %v", f)
	}
}

// TestNoFalseMissedAppsWarning: an API whose apps totalSize counts every
// app of the organization, whatever the listing's status and keyStatus
// (finding 10 of the docs-only check), reports the same total on all four
// listings. A complete export must not warn that apps were missed and ask
// for another run, and its last progress total is the number of apps.
func TestNoFalseMissedAppsWarning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, emulator.GenerateSpec{Developers: 10, Apps: 120, Seed: 6}, emulator.Options{TotalSizeAll: true})
	dir := t.TempDir()
	var last export.Progress
	res, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Apps, formats.NDJSON, "file://"+dir), func(r *export.Runner) {
		r.OnProgress = func(p export.Progress) { last = p }
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 120 || len(res.Warnings) != 0 {
		t.Fatalf("%d apps, warnings %q; want 120 and none", res.Records, res.Warnings)
	}
	if last.Total != 120 {
		t.Fatalf("last progress %+v: want a total of 120", last)
	}
}

// TestKeylessAppsListedNowhere: an API that lists apps without keys under
// neither keyStatus (the reference does not say where it lists them) hides
// them from every apps listing. Where totalSize counts every app, the
// export reads every listing again once, finds the same, and warns that
// the missing apps may be listed under no keyStatus, rather than only
// asking for another run.
func TestKeylessAppsListedNowhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, emulator.GenerateSpec{Developers: 10, Apps: 150, Seed: 7}, emulator.Options{TotalSizeAll: true, KeylessApps: emulator.KeylessNone})
	keyless := 0
	for _, a := range e.data.Orgs[0].Apps {
		if len(a.GetCredentials()) == 0 {
			keyless++
		}
	}
	if keyless == 0 {
		t.Fatal("no app without keys generated: the test tests nothing")
	}
	dir := t.TempDir()
	res, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Apps, formats.NDJSON, "file://"+dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != int64(150-keyless) {
		t.Fatalf("%d apps, want the %d with keys", res.Records, 150-keyless)
	}
	if !hasWarning(res.Warnings, fmt.Sprintf("%d fewer than the 150", keyless), "apps without keys", "every listing was read again") {
		t.Fatalf("warnings %q: want one naming the %d missing apps and apps without keys", res.Warnings, keyless)
	}
}
