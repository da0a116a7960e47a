package main

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"pubexport/export"
	"pubexport/export/apigee/emulator"
	"pubexport/export/sink/gcstest"
	"pubexport/operations/notify/pubsubtest"
)

// gcsObjects lists the bucket's objects by name.
func gcsObjects(t *testing.T, srv *gcstest.Server, bucket, prefix string) map[string]*storage.ObjectAttrs {
	t.Helper()
	out := map[string]*storage.ObjectAttrs{}
	it := srv.Client.Bucket(bucket).Objects(t.Context(), &storage.Query{Prefix: prefix})
	for {
		o, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[o.Name] = o
	}
}

func readGCS(t *testing.T, srv *gcstest.Server, bucket, name string) []byte {
	t.Helper()
	r, err := srv.Client.Bucket(bucket).Object(name).NewReader(t.Context())
	if err != nil {
		t.Fatalf("reading gs://%s/%s: %v", bucket, name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJobRecurring is the nightly Cloud Run job of the README's recipe run
// on two days (the clock moved back a day for the first): a dated folder
// per resource and day, one LATEST pointer per resource naming the newer
// export, objects stamped with the custom time of the run that last
// referenced them, and the operations out of the data's prefix.
func TestJobRecurring(t *testing.T) {
	t.Parallel()
	srv := startGCS(t, "acme-exports")
	ps, _ := pubsubtest.Start(t)
	emu := startEmulator(t, emulator.Options{})
	env := map[string]string{
		pubsubEmulatorVar:       ps.Addr,
		"PUBEXPORT_ORG":         "acme",
		"PUBEXPORT_APIGEE_URL":  emu.URL,
		"PUBEXPORT_DESTINATION": "gs://acme-exports/apigee/{resource}/{date}",
		"PUBEXPORT_FORMAT":      "ndjson",
		"PUBEXPORT_NOTIFY":      pubsubtest.TopicURL,
	}
	yesterday := time.Now().UTC().Add(-24 * time.Hour)
	days := []string{yesterday.Format(time.DateOnly), time.Now().UTC().Format(time.DateOnly)}
	for i, shift := range []time.Duration{-24 * time.Hour, 0} {
		ta := newTestApp(gcsEnv(srv, env))
		ta.now = func() time.Time { return time.Now().Add(shift) }
		if code := ta.run(t.Context(), "job"); code != 0 {
			t.Fatalf("day %d: exit %d\n%s\n%s", i, code, ta.stdout, ta.stderr)
		}
	}

	objs := gcsObjects(t, srv, "acme-exports", "")
	for _, r := range []string{"developers", "apps", "apiproducts"} {
		for _, day := range days {
			var finals, manifests int
			for name := range objs {
				if rest, ok := strings.CutPrefix(name, "apigee/"+r+"/"+day+"/"); ok {
					switch {
					case strings.HasPrefix(rest, "ExportFinal_") && strings.HasSuffix(rest, ".ndjson"):
						finals++
					case strings.HasPrefix(rest, "ExportManifest_"):
						manifests++
					}
				}
			}
			if finals != 1 || manifests != 1 {
				t.Errorf("%s on %s: %d objects and %d manifests, want 1 and 1", r, day, finals, manifests)
			}
		}
		var l export.Latest
		if err := json.Unmarshal(readGCS(t, srv, "acme-exports", "apigee/LATEST/acme/"+r+".json"), &l); err != nil {
			t.Fatal(err)
		}
		wantDir := "gs://acme-exports/apigee/" + r + "/" + days[1] + "/"
		if !strings.HasPrefix(l.Manifest, wantDir) || len(l.Objects) != 1 || !strings.HasPrefix(l.Objects[0], wantDir) {
			t.Errorf("LATEST of %s does not point at %s: %+v", r, wantDir, l)
		}
		if l.RunTime.Before(yesterday.Add(12 * time.Hour)) {
			t.Errorf("LATEST of %s has the older run time %v", r, l.RunTime)
		}
		// Every object the newer manifest references carries its run time.
		for _, uri := range append(l.Objects, l.Manifest) {
			a := objs[strings.TrimPrefix(uri, "gs://acme-exports/")]
			if a == nil {
				t.Fatalf("%s is missing", uri)
			}
			if !a.CustomTime.Equal(l.RunTime.Truncate(time.Second)) {
				t.Errorf("%s: customTime %v, want the newer run's %v", uri, a.CustomTime, l.RunTime)
			}
		}
	}
	var pointers, records int
	for name := range objs {
		switch {
		case strings.HasPrefix(name, "apigee/LATEST/"):
			pointers++
		case strings.HasPrefix(name, ".pubexport/operations/organizations/acme/operations/"):
			records++
		case strings.Contains(name, ".pubexport"):
			t.Errorf("unexpected object %s", name)
		}
	}
	if pointers != 3 || records != 6 {
		t.Errorf("%d pointers (want 3), %d operation records at gs://acme-exports/.pubexport/operations (want 6)", pointers, records)
	}

	// A failed and a cancelled export of the same job.
	release := make(chan struct{})
	defer close(release)
	bad := startEmulator(t, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, "/apiproducts"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}`))
			return true
		case strings.HasSuffix(r.URL.Path, "/apps"):
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return false
	}})
	env3 := maps.Clone(env)
	env3["PUBEXPORT_APIGEE_URL"] = bad.URL
	env3["PUBEXPORT_RESOURCES"] = "apiproducts,apps"
	env3["PUBEXPORT_LEASE"] = "6s" // the cancel is seen within a third of it; long enough for a loaded machine
	ta3 := newTestApp(gcsEnv(srv, env3))
	done3 := make(chan int, 1)
	go func() { done3 <- ta3.run(t.Context(), "job") }()
	var appsOp string
	waitFor(t, "the apps export to run", func() bool {
		// By its target: the job records the apiproducts export first, so
		// for a moment that one alone is not done.
		ops := newTestApp(gcsEnv(srv, nil))
		ops.run(t.Context(), "operations", "list", "--org", "acme", "--store", "gs://acme-exports/.pubexport/operations", "--filter", "done=false", "--output", "json")
		var resp struct {
			Operations []struct {
				Name     string
				Metadata struct{ TargetResourceName string }
			}
		}
		if json.Unmarshal([]byte(ops.stdout.String()), &resp) != nil {
			return false
		}
		for _, op := range resp.Operations {
			if op.Metadata.TargetResourceName == "organizations/acme/apps" {
				appsOp = op.Name
				return true
			}
		}
		return false
	})
	cancel := newTestApp(gcsEnv(srv, nil))
	if code := cancel.run(t.Context(), "operations", "cancel", appsOp, "--store", "gs://acme-exports/.pubexport/operations"); code != 0 {
		t.Fatalf("cancel: exit %d\n%s", code, cancel.stderr)
	}
	if code := <-done3; code != exitFailed {
		t.Errorf("job with a failed export: exit %d\n%s", code, ta3.stdout)
	}
	severity := map[string]string{}
	for _, l := range logLines(t, ta3.stdout.String()) {
		if m, _ := l["message"].(string); strings.HasPrefix(m, "operation ") {
			severity[m], _ = l["severity"].(string)
		}
	}
	if severity["operation failed"] != "ERROR" || severity["operation cancelled"] != "WARNING" {
		t.Errorf("terminal states logged as %v\n%s", severity, ta3.stdout)
	}

	// One message per operation: six done, one failed, one cancelled.
	states := map[string][]string{}
	for _, msg := range ps.Messages() {
		states[msg.Attributes["operation"]] = append(states[msg.Attributes["operation"]], msg.Attributes["state"])
	}
	count := map[string]int{}
	for name, s := range states {
		if len(s) != 1 {
			t.Errorf("%s: %d messages %v", name, len(s), s)
		}
		count[s[0]]++
	}
	if count["SUCCEEDED"] != 6 || count["FAILED"] != 1 || count["CANCELLED"] != 1 || len(states) != 8 {
		t.Errorf("messages by state: %v (%d operations)", count, len(states))
	}
	if s := states[appsOp]; len(s) != 1 || s[0] != "CANCELLED" {
		t.Errorf("cancelled export: %v", s)
	}

	// `pubexport latest` finds the newest apps export from the template.
	ta := newTestApp(gcsEnv(srv, nil))
	if code := ta.run(t.Context(), "latest", "--org", "acme", "--resource", "apps", "--to", env["PUBEXPORT_DESTINATION"], "--output", "json"); code != 0 {
		t.Fatalf("latest: exit %d\n%s", code, ta.stderr)
	}
	var l export.Latest
	if err := json.Unmarshal([]byte(ta.stdout.String()), &l); err != nil || !strings.Contains(l.Manifest, "/apps/"+days[1]+"/") {
		t.Errorf("latest --output json: %v\n%s", err, ta.stdout)
	}
	ta = newTestApp(gcsEnv(srv, nil))
	if code := ta.run(t.Context(), "latest", "--org", "acme", "--resource", "apps", "--to", "gs://acme-exports/apigee"); code != 0 || !strings.Contains(ta.stdout.String(), "manifest: gs://acme-exports/apigee/apps/"+days[1]+"/ExportManifest_") {
		t.Errorf("latest: exit %d\n%s%s", code, ta.stdout, ta.stderr)
	}
}

// TestRecurringSameObjectRestamped: an unchanged export is not rewritten,
// so its object keeps its creation time; the second day's run moves its
// custom time forward, which is what the lifecycle rule counts from.
func TestRecurringSameObjectRestamped(t *testing.T) {
	t.Parallel()
	srv := startGCS(t, "acme-exports")
	emu := startEmulator(t, emulator.Options{})
	var stamps []time.Time
	for _, shift := range []time.Duration{-48 * time.Hour, 0} {
		ta := newTestApp(gcsEnv(srv, nil))
		ta.now = func() time.Time { return time.Now().Add(shift) }
		if code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--resource", "apiproducts", "--to", "gs://acme-exports/flat"); code != 0 {
			t.Fatalf("exit %d\n%s", code, ta.stderr)
		}
		var finals []*storage.ObjectAttrs
		for name, a := range gcsObjects(t, srv, "acme-exports", "flat/") {
			if strings.HasPrefix(name, "flat/ExportFinal_") {
				finals = append(finals, a)
			}
		}
		if len(finals) != 1 {
			t.Fatalf("finals: %v", finals)
		}
		stamps = append(stamps, finals[0].CustomTime)
	}
	if d := stamps[1].Sub(stamps[0]); d < 47*time.Hour {
		t.Errorf("custom time moved from %v to %v; want it moved forward by the second run", stamps[0], stamps[1])
	}
}

// TestBadPlaceholders: a mistyped placeholder is a usage error naming it and
// the valid ones, before anything is read or written.
func TestBadPlaceholders(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	emu := startEmulator(t, emulator.Options{Intercept: func(http.ResponseWriter, *http.Request) bool {
		requests.Add(1)
		return false
	}})
	dir := t.TempDir()
	ta := newTestApp(nil)
	code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--to", dir+"/{resource}/{dat}")
	if code != exitUsage || !strings.Contains(ta.stderr.String(), "unknown placeholder {dat}") || !strings.Contains(ta.stderr.String(), "{date}") {
		t.Errorf("run: exit %d\n%s", code, ta.stderr)
	}
	ta = newTestApp(jobEnv(emu, dir, map[string]string{"PUBEXPORT_DESTINATION": "gs://{org}-exports/apigee"}))
	if code := ta.run(t.Context(), "job"); code != exitUsage || !strings.Contains(ta.stderr.String(), "PUBEXPORT_DESTINATION") || !strings.Contains(ta.stderr.String(), "bucket name") {
		t.Errorf("job: exit %d\n%s", code, ta.stderr)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached Apigee", n)
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 0 {
		t.Errorf("written: %v", finals)
	}
}

// TestRunLayoutFolder: placeholders in a folder destination, and the
// operation store at the folder's root.
func TestRunLayoutFolder(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	dir := t.TempDir()
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--resource", "apps,apiproducts", "--to", dir+"/{org}/{resource}/{date}"); code != 0 {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	finals, _ := exportFiles(t, dir)
	if len(finals) != 2 {
		t.Fatalf("finals: %v", finals)
	}
	for _, f := range finals {
		if !strings.HasPrefix(f, dir+"/acme/apps/"+day+"/") && !strings.HasPrefix(f, dir+"/acme/apiproducts/"+day+"/") {
			t.Errorf("%s is not in its dated folder", f)
		}
	}
	ta = newTestApp(nil)
	if code := ta.run(t.Context(), "operations", "list", "--org", "acme", "--store", dir+"/.pubexport/operations"); code != 0 || strings.Count(ta.stdout.String(), "DONE") != 2 {
		t.Errorf("operations list: exit %d\n%s%s", code, ta.stdout, ta.stderr)
	}
	ta = newTestApp(nil)
	if code := ta.run(t.Context(), "latest", "--org", "acme", "--resource", "apps", "--to", dir); code != 0 || !strings.Contains(ta.stdout.String(), "/acme/apps/"+day+"/ExportFinal_") {
		t.Errorf("latest: exit %d\n%s%s", code, ta.stdout, ta.stderr)
	}
}

// TestServeTriggerLayout: a trigger's destination takes the placeholders
// too; the server fills them in and moves the pointer at the root.
func TestServeTriggerLayout(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	srv, _ := startServe(t, "--store", "file://"+t.TempDir(), "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	dir := t.TempDir()
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--server", srv, "--org", "acme", "--apigee-url", emu.URL, "--resource", "apiproducts", "--format", "parquet", "--to", dir+"/{resource}/{date}"); code != 0 {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	finals, manifests := exportFiles(t, dir)
	if len(finals) != 1 || len(manifests) != 1 || !strings.HasPrefix(finals[0], dir+"/apiproducts/"+day+"/") {
		t.Fatalf("finals %v, manifests %v", finals, manifests)
	}
	b, err := os.ReadFile(dir + "/LATEST/acme/apiproducts.json")
	if err != nil {
		t.Fatal(err)
	}
	var l export.Latest
	if err := json.Unmarshal(b, &l); err != nil || !strings.HasSuffix(l.Objects[0], strings.TrimPrefix(finals[0], dir)) || !strings.Contains(l.Schema, "/apiproducts/"+day+"/BigQuerySchema_") {
		t.Errorf("pointer %+v (%v)", l, err)
	}
}
