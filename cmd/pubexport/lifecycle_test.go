package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/cmd/pubexport/internal/cloudrun/cloudruntest"
	"pubexport/export/apigee/emulator"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// These tests cover how exports survive the death of their runner: serve's
// periodic Recover, `operations resume`, signals in run, and the job's
// leases, retries and exit codes. Dead runners are simulated by writing
// their leases into the store, as a process killed with kill -9 leaves them.

// testManager is an operations manager on the local store in dir.
func testManager(t *testing.T, dir string) (*operations.Manager, store.Store) {
	t.Helper()
	st, err := store.Local(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := operations.New(t.Context(), operations.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, st
}

// create records req's export with m (it does not run it).
func create(t *testing.T, m *operations.Manager, req *operationspb.ExportRequest) *longrunningpb.Operation {
	t.Helper()
	op, err := m.Create(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// forge rewrites operation name's record in st with edit, as another
// process would have left it.
func forge(t *testing.T, st store.Store, name string, edit func(rec *operationspb.OperationRecord, op *longrunningpb.Operation)) {
	t.Helper()
	rec, gen, err := st.Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	op := new(longrunningpb.Operation)
	if err := rec.GetOperation().UnmarshalTo(op); err != nil {
		t.Fatal(err)
	}
	edit(rec, op)
	a, err := anypb.New(op)
	if err != nil {
		t.Fatal(err)
	}
	rec.Operation = a
	if _, err := st.Update(t.Context(), rec, gen); err != nil {
		t.Fatal(err)
	}
}

// leasedBy gives the record a lease of holder until expires, as a runner
// that died holding it leaves it.
func leasedBy(holder string, expires time.Time) func(*operationspb.OperationRecord, *longrunningpb.Operation) {
	return func(rec *operationspb.OperationRecord, _ *longrunningpb.Operation) {
		rec.LeaseHolder, rec.LeaseExpires = holder, timestamppb.New(expires)
		rec.Attempts = 1
	}
}

// failedWith ends the operation with code.
func failedWith(c codes.Code) func(*operationspb.OperationRecord, *longrunningpb.Operation) {
	return func(rec *operationspb.OperationRecord, op *longrunningpb.Operation) {
		op.Done = true
		op.Result = &longrunningpb.Operation_Error{Error: status.New(c, "forged failure").Proto()}
		rec.LeaseHolder, rec.LeaseExpires, rec.Checkpoint = "", nil, nil
	}
}

func getOp(t *testing.T, st store.Store, name string) (*operationspb.OperationRecord, *longrunningpb.Operation) {
	t.Helper()
	rec, _, err := st.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	op := new(longrunningpb.Operation)
	if err := rec.GetOperation().UnmarshalTo(op); err != nil {
		t.Fatal(err)
	}
	return rec, op
}

func exportReq(emu *emulator.Server, dir, resource, format string) *operationspb.ExportRequest {
	return &operationspb.ExportRequest{Parent: "organizations/acme", Resource: resource, Format: format,
		ApigeeUrl: emu.URL, Destination: "file://" + dir}
}

// TestServeRecoversPeriodically: an operation whose runner dies after serve
// started is taken over by a later Recover, not only one at start.
func TestServeRecoversPeriodically(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	storeDir, dir := t.TempDir(), t.TempDir()
	_, srv := startServeEnv(t, map[string]string{leaseVar: "200ms"}, "--store", "file://"+storeDir,
		"--allow-apigee-url", emu.URL, "--allow-destination", "file://")

	// Serve is listening, so its first Recover is over. Now a runner dies.
	m, st := testManager(t, storeDir)
	op := create(t, m, exportReq(emu, dir, "developers", "parquet"))
	forge(t, st, op.GetName(), leasedBy("killed-runner", time.Now().Add(-time.Second)))
	waitFor(t, "serve to recover the operation", func() bool {
		_, got := getOp(t, st, op.GetName())
		return got.GetDone()
	})
	if _, got := getOp(t, st, op.GetName()); got.GetError() != nil {
		t.Fatalf("recovered operation failed: %v", got.GetError())
	}
	if !strings.Contains(srv.stdout.String(), "recovering an operation whose runner stopped") {
		t.Errorf("no recovery logged:\n%s", srv.stdout)
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 1 {
		t.Errorf("exports: %v", finals)
	}
}

// TestServeSurvivesUnreadableRecord: one record Recover cannot read is
// logged, and serve serves.
func TestServeSurvivesUnreadableRecord(t *testing.T) {
	t.Parallel()
	storeDir := t.TempDir()
	opsDir := filepath.Join(storeDir, "organizations", "acme", "operations")
	if err := os.MkdirAll(opsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(opsDir, "0190e3c4-0000-7000-8000-000000000001.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	url, srv := startServe(t, "--store", "file://"+storeDir) // fails the test if serve exits
	waitFor(t, "the Recover error to be logged", func() bool {
		return strings.Contains(srv.stdout.String(), "recovering interrupted exports")
	})
	ta := newTestApp(nil)
	if code := ta.run(t.Context(), "operations", "list", "--org", "other", "--server", url); code != 0 {
		t.Errorf("serve does not answer: exit %d\n%s", code, ta.stderr)
	}
}

// startedName is the operation name a run printed for resource.
func startedName(t *testing.T, stderr, resource string) string {
	t.Helper()
	m := regexp.MustCompile(`Started ` + resource + ` export (\S+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no operation started for %s:\n%s", resource, stderr)
	}
	return m[1]
}

// TestRunSuspendAndResume: SIGTERM and SIGHUP suspend a run's export at its
// checkpoint (not cancel it) and exit 128+signal; `operations resume`
// finishes the same operation.
func TestRunSuspendAndResume(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGTERM, 143}, {syscall.SIGHUP, 129}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			t.Parallel()
			emu, blocking, started := stallableEmulator(t)
			blocking.Store(true)
			dir := t.TempDir()
			ta := newTestApp(nil)
			done := make(chan int, 1)
			go func() {
				done <- ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--resource", "apps", "--to", dir)
			}()
			<-started
			ta.sig <- c.sig
			if code := <-done; code != c.code {
				t.Fatalf("exit %d, want %d\n%s", code, c.code, ta.stderr)
			}
			name := startedName(t, ta.stderr.String(), "apps")
			storeURI := "file://" + dir + "/.pubexport/operations"
			if want := "pubexport operations resume " + name + " --store " + storeURI; !strings.Contains(ta.stderr.String(), want) {
				t.Errorf("stderr does not say how to resume (%s):\n%s", want, ta.stderr)
			}
			_, st := testManager(t, filepath.Join(dir, ".pubexport", "operations"))
			rec, op := getOp(t, st, name)
			if op.GetDone() || rec.GetLeaseHolder() != "" {
				t.Fatalf("suspended operation: done=%v error=%v holder=%q", op.GetDone(), op.GetError(), rec.GetLeaseHolder())
			}

			blocking.Store(false)
			res := newTestApp(nil)
			if code := res.run(t.Context(), "operations", "resume", name, "--store", storeURI); code != 0 {
				t.Fatalf("resume: exit %d\n%s", code, res.stderr)
			}
			if !strings.Contains(res.stdout.String(), "ExportFinal_") || !strings.Contains(res.stdout.String(), "manifest: ") {
				t.Errorf("resume output:\n%s", res.stdout)
			}
			if _, op := getOp(t, st, name); !op.GetDone() || op.GetError() != nil {
				t.Errorf("after resume: %v", op)
			}
			if finals, _ := exportFiles(t, dir); len(finals) != 1 {
				t.Errorf("exports: %v", finals)
			}
		})
	}
}

// TestResumeAfterKill: a run killed with kill -9 leaves its lease; resume
// waits for it to lapse and finishes the export. A lease that keeps being
// renewed belongs to a live runner, which resume leaves alone.
func TestResumeAfterKill(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	storeDir, dir := t.TempDir(), t.TempDir()
	m, st := testManager(t, storeDir)
	op := create(t, m, exportReq(emu, dir, "apiproducts", "ndjson"))
	forge(t, st, op.GetName(), leasedBy("killed-cli-1234", time.Now().Add(300*time.Millisecond)))
	ta := newTestApp(map[string]string{leaseVar: "1s"})
	if code := ta.run(t.Context(), "operations", "resume", op.GetName(), "--store", "file://"+storeDir); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, ta.stderr)
	}
	if !strings.Contains(ta.stderr.String(), "Waiting for the lease of killed-cli-1234") {
		t.Errorf("resume did not say it waits:\n%s", ta.stderr)
	}
	if _, got := getOp(t, st, op.GetName()); !got.GetDone() || got.GetError() != nil {
		t.Errorf("after resume: %v", got)
	}

	live := create(t, m, exportReq(emu, dir, "developers", "ndjson"))
	forge(t, st, live.GetName(), leasedBy("alive-elsewhere", time.Now().Add(time.Hour)))
	ta = newTestApp(map[string]string{leaseVar: "50ms"})
	if code := ta.run(t.Context(), "operations", "resume", live.GetName(), "--store", storeDir); code != exitFailed ||
		!strings.Contains(ta.stderr.String(), "FAILED_PRECONDITION") || !strings.Contains(ta.stderr.String(), "alive-elsewhere") {
		t.Errorf("resume of a live runner's operation: exit %d\n%s", code, ta.stderr)
	}
	if _, got := getOp(t, st, live.GetName()); got.GetDone() {
		t.Errorf("resume touched a live runner's operation: %v", got)
	}
	// resume needs the store.
	ta = newTestApp(nil)
	if code := ta.run(t.Context(), "operations", "resume", live.GetName(), "--server", "http://127.0.0.1:1"); code != exitUsage {
		t.Errorf("resume --server: exit %d\n%s", code, ta.stderr)
	}
}

// TestRunSubscribesBeforeExporting: a signal that arrives while the
// exports are being started is handled (the process is not killed by it):
// the subscription comes before the first export starts.
func TestRunSubscribesBeforeExporting(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	dir := t.TempDir()
	ta := newTestApp(nil)
	var before string
	ta.onSubscribe = func() {
		before = ta.stderr.String()
		ta.sig <- syscall.SIGINT // Ctrl-C at once
	}
	code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--to", dir)
	if strings.Contains(before, "Started") {
		t.Errorf("subscribed to signals only after starting exports:\n%s", before)
	}
	if code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s", code, ta.stderr)
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 0 {
		t.Errorf("an interrupted run published %v", finals)
	}
}

// TestWaitInterruptStopsWatching: Ctrl-C on `operations wait` stops the
// watching at once and says how to cancel; it sends no cancel to the
// server.
func TestWaitInterruptStopsWatching(t *testing.T) {
	t.Parallel()
	const name = "organizations/acme/operations/0190e3c4-0000-7000-8000-000000000002"
	var cancels atomic.Int64
	running, _ := protojson.Marshal(&longrunningpb.Operation{Name: name})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ":cancel") {
			cancels.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(running)
	}))
	t.Cleanup(hs.Close)

	ta := newTestApp(nil)
	done := make(chan int, 1)
	go func() { done <- ta.run(t.Context(), "operations", "wait", name, "--server", hs.URL) }()
	ta.sig <- syscall.SIGINT
	code := <-done
	if code != exitInterrupted || len(ta.exits()) != 0 || cancels.Load() != 0 {
		t.Errorf("Ctrl-C: exit %d, hard exits %v, %d cancel requests\n%s", code, ta.exits(), cancels.Load(), ta.stderr)
	}
	if want := "pubexport operations cancel " + name + " --server " + hs.URL; !strings.Contains(ta.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, ta.stderr)
	}
}

// TestJobWaitsForDeadAttemptLease: attempt 1 finds the lease of attempt 0,
// which was killed holding it: it waits for the lease to lapse and resumes.
func TestJobWaitsForDeadAttemptLease(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	storeDir, dir := t.TempDir(), t.TempDir()
	m, st := testManager(t, storeDir)
	op := create(t, m, exportReq(emu, dir, "developers", "json"))
	forge(t, st, op.GetName(), leasedBy("pubexport-k9x2z/task-0/attempt-0", time.Now().Add(300*time.Millisecond)))
	ta := newTestApp(map[string]string{
		"PUBEXPORT_OPERATION": op.GetName(), "PUBEXPORT_STORE": "file://" + storeDir, leaseVar: "1s",
		"CLOUD_RUN_EXECUTION": "pubexport-k9x2z", "CLOUD_RUN_TASK_ATTEMPT": "1",
	})
	if code := ta.run(t.Context(), "job"); code != 0 {
		t.Fatalf("exit %d\n%s", code, ta.stdout)
	}
	out := ta.stdout.String()
	if !strings.Contains(out, "waiting for the lease of an earlier attempt to lapse") || !strings.Contains(out, "export finished") {
		t.Errorf("log:\n%s", out)
	}
	if _, got := getOp(t, st, op.GetName()); !got.GetDone() || got.GetError() != nil {
		t.Errorf("operation: %v", got)
	}
}

// TestJobLeavesOperationToAnotherExecution: an operation leased by another
// execution (a duplicate dispatch) is left to it, and the task succeeds.
func TestJobLeavesOperationToAnotherExecution(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	storeDir, dir := t.TempDir(), t.TempDir()
	m, st := testManager(t, storeDir)
	op := create(t, m, exportReq(emu, dir, "developers", "json"))
	forge(t, st, op.GetName(), leasedBy("pubexport-first/task-0/attempt-0", time.Now().Add(time.Hour)))
	ta := newTestApp(map[string]string{
		"PUBEXPORT_OPERATION": op.GetName(), "PUBEXPORT_STORE": "file://" + storeDir, "CLOUD_RUN_EXECUTION": "pubexport-second",
	})
	if code := ta.run(t.Context(), "job"); code != 0 || !strings.Contains(ta.stdout.String(), "run by another process") {
		t.Fatalf("exit %d\n%s", code, ta.stdout)
	}
	if rec, got := getOp(t, st, op.GetName()); got.GetDone() || rec.GetLeaseHolder() != "pubexport-first/task-0/attempt-0" {
		t.Errorf("the job touched another execution's operation: %v %v", rec.GetLeaseHolder(), got)
	}
}

// TestJobCancelledExitsZero: an operation cancelled before its task ran is
// nothing to retry.
func TestJobCancelledExitsZero(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	storeDir := t.TempDir()
	m, _ := testManager(t, storeDir)
	op := create(t, m, exportReq(emu, t.TempDir(), "developers", "json"))
	if err := m.Cancel(t.Context(), op.GetName()); err != nil {
		t.Fatal(err)
	}
	ta := newTestApp(map[string]string{"PUBEXPORT_OPERATION": op.GetName(), "PUBEXPORT_STORE": "file://" + storeDir})
	if code := ta.run(t.Context(), "job"); code != 0 || !strings.Contains(ta.stdout.String(), "export was cancelled") {
		t.Fatalf("exit %d\n%s", code, ta.stdout)
	}
}

// TestJobRetryRestartsTransientFailure: a retry that finds its export
// ended UNAVAILABLE starts a new one (and a later retry finds that one);
// a permanent failure is reported again, exit 1, without a new export.
func TestJobRetryRestartsTransientFailure(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	dir := t.TempDir()
	_, st := testManager(t, filepath.Join(dir, ".pubexport", "operations"))
	attempt := func(exec string, n int) (int, string, *testApp) {
		ta := newTestApp(jobEnv(emu, dir, map[string]string{"PUBEXPORT_RESOURCES": "developers",
			"CLOUD_RUN_EXECUTION": exec, "CLOUD_RUN_TASK_ATTEMPT": fmt.Sprint(n)}))
		code := ta.run(t.Context(), "job")
		ids := opLabels(t, ta.stdout.String())
		if len(ids) != 1 {
			t.Fatalf("attempt %d ran %v\n%s", n, ids, ta.stdout)
		}
		for id := range ids {
			return code, id, ta
		}
		return code, "", ta
	}

	code, first, _ := attempt("pubexport-t1", 0)
	if code != 0 {
		t.Fatalf("attempt 0: exit %d", code)
	}
	forge(t, st, first, failedWith(codes.Unavailable))
	code, second, ta := attempt("pubexport-t1", 1)
	if code != 0 || second == first || !strings.Contains(ta.stdout.String(), "starting it again") {
		t.Fatalf("attempt 1 after UNAVAILABLE: exit %d, operation %s (first %s)\n%s", code, second, first, ta.stdout)
	}
	if code, third, _ := attempt("pubexport-t1", 2); code != 0 || third != second {
		t.Errorf("attempt 2: exit %d, operation %s, want %s", code, third, second)
	}

	code, first, _ = attempt("pubexport-t2", 0)
	if code != 0 {
		t.Fatalf("attempt 0: exit %d", code)
	}
	forge(t, st, first, failedWith(codes.PermissionDenied))
	if code, again, _ := attempt("pubexport-t2", 1); code != exitFailed || again != first {
		t.Errorf("attempt 1 after PERMISSION_DENIED: exit %d, operation %s, want 1 and %s", code, again, first)
	}
}

// TestServeDispatchesOnce: retried triggers (same request_id) of an export
// not yet started start one Cloud Run execution, not one each.
func TestServeDispatchesOnce(t *testing.T) {
	t.Parallel()
	js := cloudruntest.Start(t)
	emu := startEmulator(t, emulator.Options{})
	url, _ := startServe(t, "--store", "file://"+t.TempDir(), "--dispatch", "cloudrun",
		"--job", "projects/acme-prod/locations/europe-west1/jobs/pubexport", "--cloudrun-endpoint", js.Addr,
		"--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	c := dial(t, url)
	req := exportReq(emu, t.TempDir(), "developers", "json")
	req.RequestId = "5f0c2f7e-3a51-4d7c-9b6f-0f8f2b1c9a11"
	var names []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 { // a retry storm, some concurrent
		wg.Go(func() {
			op, err := c.Export(t.Context(), req)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			names = append(names, op.GetName())
			mu.Unlock()
		})
	}
	wg.Wait()
	if op, err := c.Export(t.Context(), req); err != nil || op.GetName() != names[0] {
		t.Fatalf("retry: %v %v", op, err)
	}
	for _, n := range names {
		if n != names[0] {
			t.Fatalf("one request id, several operations: %v", names)
		}
	}
	if reqs := js.Requests(); len(reqs) != 1 {
		t.Errorf("%d executions started for one export, want 1", len(reqs))
	}
}

// TestServeSuspendsWhileDraining: on SIGTERM the running exports are
// suspended while requests still drain, not after (Cloud Run kills the
// instance 10 s after SIGTERM, which is the drain's limit too).
func TestServeSuspendsWhileDraining(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	emu := startEmulator(t, emulator.Options{Intercept: blockAppsList(started)})
	storeDir := t.TempDir()
	url, srv := startServe(t, "--store", "file://"+storeDir, "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	c := dial(t, url)
	op, err := c.Export(t.Context(), exportReq(emu, t.TempDir(), "apps", "json"))
	if err != nil {
		t.Fatal(err)
	}
	<-started

	// A request in flight: its handler waits for a body that has not come
	// yet ("100 Continue" says the handler is reading it).
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"nonsense": true}`
	fmt.Fprintf(conn, "POST /v1/organizations/acme/developers:export HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", strings.TrimPrefix(url, "http://"), len(body))
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil || !strings.Contains(line, "100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	if _, err := r.ReadString('\n'); err != nil { // the blank line after it
		t.Fatal(err)
	}

	srv.sig <- syscall.SIGTERM
	_, st := testManager(t, storeDir)
	waitFor(t, "the export to be suspended", func() bool {
		rec, got := getOp(t, st, op.GetName())
		return !got.GetDone() && rec.GetLeaseHolder() == ""
	})
	// The drain is still going on: the request in flight gets its answer.
	io.WriteString(conn, body)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("the request in flight was cut off before the export was suspended: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("in-flight request: %s", resp.Status)
	}
	if _, got := getOp(t, st, op.GetName()); got.GetDone() {
		t.Errorf("shutdown ended the export instead of suspending it: %v", got)
	}
}
