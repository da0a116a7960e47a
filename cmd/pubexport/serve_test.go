package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/cmd/pubexport/internal/cloudrun/cloudruntest"
	"pubexport/cmd/pubexport/internal/opsclient"
	"pubexport/export/apigee/emulator"
	"pubexport/operations/operationspb"
)

// startServe runs `pubexport serve` in-process and returns its base URL
// (http://127.0.0.1:PORT) and the app (to read its logs). It is stopped
// with SIGTERM at the end of the test.
func startServe(t *testing.T, args ...string) (string, *testApp) {
	t.Helper()
	return startServeEnv(t, nil, args...)
}

// startServeEnv is startServe with an environment.
func startServeEnv(t *testing.T, env map[string]string, args ...string) (string, *testApp) {
	t.Helper()
	url, ta, done := launchServe(t, env, args...)
	t.Cleanup(func() {
		ta.sig <- syscall.SIGTERM
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d after SIGTERM\n%s", code, ta.stderr)
		}
	})
	return url, ta
}

// launchServe starts serve on a free loopback port with env and args, and
// returns once it listens: its URL, the app, and the channel its exit
// status arrives on, for a test that stops it itself. It fails the test if
// serve exits before it listens.
func launchServe(t *testing.T, env map[string]string, args ...string) (string, *testApp, <-chan int) {
	t.Helper()
	ta := newTestApp(env)
	done := make(chan int, 1)
	go func() {
		done <- ta.run(context.WithoutCancel(t.Context()), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	}()
	var url string
	waitFor(t, "serve to listen", func() bool {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d\nstdout:\n%s\nstderr:\n%s", code, ta.stdout, ta.stderr)
		default:
		}
		for _, line := range strings.Split(ta.stdout.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "pubexport serve listening" {
				url, _ = m["url"].(string)
				return true
			}
		}
		return false
	})
	return url, ta, done
}

func TestServeRunAndOperations(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	url, srv := startServe(t, "--store", "file://"+t.TempDir(), "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	dir := t.TempDir()

	// run --server triggers over REST and watches by polling.
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "run", "--server", url, "--org", "acme", "--apigee-url", emu.URL, "--to", dir, "--output", "json"); code != 0 {
		t.Fatalf("run --server: exit %d\n%s", code, ta.stderr)
	}
	ops := parseOps(t, ta.stdout.String())
	if len(ops) != 3 {
		t.Fatalf("%d operations", len(ops))
	}
	for _, op := range ops {
		if !op.GetDone() || op.GetError() != nil {
			t.Errorf("operation %v", op)
		}
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 3 {
		t.Errorf("exports: %v", finals)
	}
	// serve's logs are Cloud Logging lines, labelled with the operations.
	if ids := opLabels(t, srv.stdout.String()); len(ids) == 0 {
		t.Errorf("serve logged no labelled line:\n%s", srv.stdout)
	}

	// operations list, over REST and gRPC.
	grpcURL := "grpc://" + strings.TrimPrefix(url, "http://")
	for _, server := range []string{url, grpcURL} {
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), "operations", "list", "--org", "acme", "--server", server); code != 0 {
			t.Fatalf("list via %s: exit %d\n%s", server, code, ta.stderr)
		}
		for _, op := range ops {
			if !strings.Contains(ta.stdout.String(), op.GetName()) {
				t.Errorf("list via %s lacks %s:\n%s", server, op.GetName(), ta.stdout)
			}
		}
		if !strings.HasPrefix(ta.stdout.String(), "NAME") || strings.Count(ta.stdout.String(), "DONE") != 3 {
			t.Errorf("list via %s:\n%s", server, ta.stdout)
		}
	}

	// operations get prints the operation as JSON, over both transports.
	name := ops[1].GetName()
	for _, server := range []string{url, grpcURL} {
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), "operations", "get", name, "--server", server); code != 0 {
			t.Fatalf("get via %s: exit %d\n%s", server, code, ta.stderr)
		}
		var got longrunningpb.Operation
		if err := protojson.Unmarshal([]byte(ta.stdout.String()), &got); err != nil || !proto.Equal(&got, ops[1]) {
			t.Errorf("get via %s: %v\n%s", server, err, ta.stdout)
		}
	}

	// operations wait on a finished operation prints its objects.
	ta = newTestApp(nil)
	if code := ta.run(t.Context(), "operations", "wait", name, "--server", url); code != 0 {
		t.Fatalf("wait: exit %d\n%s", code, ta.stderr)
	}
	if !strings.Contains(ta.stdout.String(), "ExportFinal_") || !strings.Contains(ta.stdout.String(), "manifest: ") {
		t.Errorf("wait output:\n%s", ta.stdout)
	}

	// Errors come back with their code and the flag or name to fix.
	ta = newTestApp(nil)
	if code := ta.run(t.Context(), "operations", "get", "organizations/acme/operations/nope", "--server", url); code != exitFailed ||
		!strings.Contains(ta.stderr.String(), "NOT_FOUND") {
		t.Errorf("get missing: exit %d\n%s", code, ta.stderr)
	}
	ta = newTestApp(nil)
	if code := ta.run(t.Context(), "operations", "get", "nope", "--server", url); code != exitUsage {
		t.Errorf("get bad name: exit %d\n%s", code, ta.stderr)
	}
}

// TestServeWaitAndCancel: `operations wait` follows a running export that
// `run --server` started over gRPC, and `operations cancel` ends it.
func TestServeWaitAndCancel(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	emu := startEmulator(t, emulator.Options{Intercept: blockAppsList(started)})
	url, _ := startServe(t, "--store", "file://"+t.TempDir(), "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	grpcURL := "grpc://" + strings.TrimPrefix(url, "http://")

	c := dial(t, grpcURL)
	op, err := c.Export(t.Context(), &operationspb.ExportRequest{
		Parent: "organizations/acme", Resource: "apps", ApigeeUrl: emu.URL, Destination: "file://" + t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	wait := newTestApp(nil)
	done := make(chan int, 1)
	go func() { done <- wait.run(t.Context(), "operations", "wait", op.GetName(), "--server", url) }()

	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "operations", "cancel", op.GetName(), "--server", grpcURL); code != 0 {
		t.Fatalf("cancel: exit %d\n%s", code, ta.stderr)
	}
	if code := <-done; code != exitFailed {
		t.Fatalf("wait: exit %d, want 1\n%s", code, wait.stderr)
	}
	if !strings.Contains(wait.stderr.String(), "(CANCELLED)") || !strings.Contains(wait.stdout.String(), "apps: CANCELLED") {
		t.Errorf("wait output:\nstdout:\n%s\nstderr:\n%s", wait.stdout, wait.stderr)
	}
}

// dial is a client of the serve API at url (http:// or grpc://), closed
// when the test ends.
func dial(t *testing.T, url string) *opsclient.Client {
	t.Helper()
	c, err := opsclient.Dial(t.Context(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestServeDispatchCloudRun: a triggered export is recorded, handed to a
// Cloud Run job execution with PUBEXPORT_OPERATION and PUBEXPORT_STORE, and
// the job (run here with that environment) completes it.
func TestServeDispatchCloudRun(t *testing.T) {
	t.Parallel()
	js := cloudruntest.Start(t)
	const job = "projects/acme-prod/locations/europe-west1/jobs/pubexport"
	storeDir := t.TempDir()
	emu := startEmulator(t, emulator.Options{})
	url, srv := startServe(t, "--store", "file://"+storeDir, "--dispatch", "cloudrun", "--job", job,
		"--cloudrun-endpoint", js.Addr, "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	dir := t.TempDir()

	c := dial(t, url)
	op, err := c.Export(t.Context(), &operationspb.ExportRequest{
		Parent: "organizations/acme", Resource: "developers", ApigeeUrl: emu.URL, Destination: "file://" + dir, Format: "csv",
	})
	if err != nil {
		t.Fatal(err)
	}
	if op.GetDone() || stateOf(op) != "NOT_STARTED" {
		t.Fatalf("dispatched operation: %v", op)
	}
	reqs := js.Requests()
	if len(reqs) != 1 || reqs[0].GetName() != job || reqs[0].GetOverrides().GetTaskCount() != 1 {
		t.Fatalf("RunJob requests: %v", reqs)
	}
	env := map[string]string{}
	for _, e := range reqs[0].GetOverrides().GetContainerOverrides()[0].GetEnv() {
		env[e.GetName()] = e.GetValue()
	}
	if env["PUBEXPORT_OPERATION"] != op.GetName() || env["PUBEXPORT_STORE"] != "file://"+storeDir {
		t.Fatalf("execution env: %v", env)
	}
	if !strings.Contains(srv.stdout.String(), "export dispatched to Cloud Run") {
		t.Errorf("no dispatch log:\n%s", srv.stdout)
	}

	// The execution: `pubexport job` with the overridden environment.
	ta := newTestApp(env)
	if code := ta.run(t.Context(), "job"); code != 0 {
		t.Fatalf("job: exit %d\n%s\n%s", code, ta.stdout, ta.stderr)
	}
	if ids := opLabels(t, ta.stdout.String()); ids[op.GetName()] == 0 {
		t.Errorf("job lines not labelled with %s: %v", op.GetName(), ids)
	}
	// The server answers for the operation the job finished.
	got, err := c.Get(t.Context(), op.GetName())
	if err != nil || !got.GetDone() || got.GetError() != nil {
		t.Fatalf("after the job: %v, %v", got, err)
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 1 || filepath.Ext(finals[0]) != ".csv" {
		t.Errorf("exports: %v", finals)
	}

	// Cloud Run refuses: the trigger fails UNAVAILABLE and the recorded
	// operation is ended (CANCELLED) rather than left NOT_STARTED.
	js.Fail(status.Error(codes.PermissionDenied, "the caller lacks run.jobs.runWithOverrides"))
	_, err = c.Export(t.Context(), &operationspb.ExportRequest{
		Parent: "organizations/acme", Resource: "apps", ApigeeUrl: emu.URL, Destination: "file://" + dir,
	})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "runWithOverrides") {
		t.Fatalf("trigger with a failing dispatch: %v", err)
	}
	all, err := c.List(t.Context(), "organizations/acme", "", 0)
	if err != nil || len(all) != 2 {
		t.Fatalf("after a failed dispatch: %v %v", all, err)
	}
	for _, op := range all {
		if labelOf(op) == "apps" && stateOf(op) != "CANCELLED" {
			t.Errorf("the undispatched operation is %s: %v", stateOf(op), op)
		}
	}
}

// TestServeTokens: with --auth tokens, calls without the token are
// refused UNAUTHENTICATED on both transports and --token gets through.
func TestServeTokens(t *testing.T) {
	t.Parallel()
	grants := filepath.Join(t.TempDir(), "grants.json")
	if err := os.WriteFile(grants, []byte(`{"tokens":[{"token":"s3cret-s3cret-s3cret","organizations":["acme"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	url, _ := startServe(t, "--store", "file://"+t.TempDir(), "--auth", "tokens", "--token-file", grants)
	grpcURL := "grpc://" + strings.TrimPrefix(url, "http://")
	for _, server := range []string{url, grpcURL} {
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), "operations", "list", "--org", "acme", "--server", server); code != exitFailed ||
			!strings.Contains(ta.stderr.String(), "UNAUTHENTICATED") {
			t.Errorf("%s without a token: exit %d\n%s", server, code, ta.stderr)
		}
		ta = newTestApp(map[string]string{"PUBEXPORT_TOKEN": "s3cret-s3cret-s3cret"})
		if code := ta.run(t.Context(), "operations", "list", "--org", "acme", "--server", server); code != 0 ||
			!strings.Contains(ta.stderr.String(), "No operations") {
			t.Errorf("%s with $PUBEXPORT_TOKEN: exit %d\n%s", server, code, ta.stderr)
		}
		ta = newTestApp(nil)
		if code := ta.run(t.Context(), "run", "--server", server, "--token", "s3cret-s3cret-s3cret", "--org", "other",
			"--to", t.TempDir()); code != exitFailed || !strings.Contains(ta.stderr.String(), "PERMISSION_DENIED") {
			t.Errorf("%s trigger for an organization not granted: exit %d\n%s", server, code, ta.stderr)
		}
	}
}

func TestServeBadFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "0.0.0.0:0"}, "--auth"},
		{[]string{"--auth", "tokens"}, "--token-file"},
		{[]string{"--auth", "idtoken", "--token-file", "/nonexistent"}, "--token-file"},
		{[]string{"--auth", "magic"}, "--auth"},
		{[]string{"--dispatch", "cloudrun"}, "--job"},
		{[]string{"--dispatch", "cloudrun", "--job", "pubexport"}, "--job"},
		{[]string{"--dispatch", "k8s"}, "--dispatch"},
		{[]string{"--addr", "nonsense"}, "--addr"},
	} {
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), append([]string{"serve"}, c.args...)...); code != exitUsage || !strings.Contains(ta.stderr.String(), c.want) {
			t.Errorf("serve %v: exit %d\n%s", c.args, code, ta.stderr)
		}
	}
}

// TestServeTriggerPolicy: by default a trigger may name neither another
// Apigee URL than Google's (the server would send its credentials there)
// nor a folder on the server; --allow-* flags open exactly what they name.
func TestServeTriggerPolicy(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	allowed := t.TempDir()
	url, _ := startServe(t, "--store", "file://"+t.TempDir(), "--allow-apigee-url", emu.URL, "--allow-destination", "file://"+allowed)
	def, _ := startServe(t, "--store", "file://"+t.TempDir())
	c := dial(t, url)
	d := dial(t, def)
	other := t.TempDir()
	for _, tc := range []struct {
		c         *opsclient.Client
		apigee    string
		dest      string
		wantField string
	}{
		{d, emu.URL, "gs://acme-exports/x", "apigeeUrl"},
		{d, "https://evil.example.com", "gs://acme-exports/x", "apigeeUrl"},
		{d, "", "file://" + other, "destination"},
		{d, "", other, "destination"},
		{c, "http://127.0.0.1:1", "file://" + allowed, "apigeeUrl"},
		{c, emu.URL, "file://" + other, "destination"},
		{c, emu.URL, "file://" + allowed + "-sibling", "destination"},
		{c, emu.URL, "gs://acme-exports/x", "destination"},
	} {
		_, err := tc.c.Export(t.Context(), &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "developers", ApigeeUrl: tc.apigee, Destination: tc.dest})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), tc.wantField+": ") {
			t.Errorf("apigee %q to %q: %v, want PERMISSION_DENIED naming %s", tc.apigee, tc.dest, err, tc.wantField)
		}
	}
	if entries, _ := os.ReadDir(other); len(entries) != 0 {
		t.Fatalf("a refused trigger wrote %v", entries)
	}
	op, err := c.Export(t.Context(), &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "developers", ApigeeUrl: emu.URL, Destination: "file://" + allowed + "/sub"})
	if err != nil {
		t.Fatalf("an allowed trigger: %v", err)
	}
	if !strings.HasPrefix(op.GetName(), "organizations/acme/operations/") {
		t.Fatalf("operation %v", op)
	}
}
