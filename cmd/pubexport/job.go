package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/cmd/pubexport/internal/cmdlog"
	"pubexport/cmd/pubexport/internal/jobenv"
	"pubexport/cmd/pubexport/internal/progress"
	"pubexport/export/apigee"
	"pubexport/formats"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

func newJobCmd(a *app) *cobra.Command {
	var vars strings.Builder
	for _, v := range jobenv.Vars {
		def := ""
		if v.Default != "" {
			def = " (default " + v.Default + ")"
		}
		fmt.Fprintf(&vars, "  %s%s\n      %s\n", v.Name, def, v.Help)
	}
	return &cobra.Command{
		Use:   "job",
		Short: "Run exports as a Cloud Run job task, configured by environment variables",
		Long: `Job is the entrypoint of the pubexport Cloud Run job. It takes no flags: a job is
configured with environment variables (gcloud run jobs deploy --set-env-vars),
and Cloud Run tells each task its index, the task count and its attempt.

Without PUBEXPORT_OPERATION, task i of n exports entries i, i+n, ... of
PUBEXPORT_RESOURCES, so --tasks 3 runs the three resources in parallel. The
operations' request ids derive from CLOUD_RUN_EXECUTION, so a retried task
(CLOUD_RUN_TASK_ATTEMPT > 0) finds the operation its failed attempt started and
resumes it from its last checkpoint instead of starting over. If that
operation ended in a transient failure (UNAVAILABLE, ABORTED,
DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) the retry starts the export again as a
new operation.

With PUBEXPORT_OPERATION (set by 'serve --dispatch cloudrun'), task 0 runs or
resumes that recorded operation and other tasks have nothing to do.

Each attempt holds its operations' leases under its own name
(EXECUTION/task-I/attempt-K). A retry that finds the lease of an earlier
attempt (one killed without releasing it) waits for it to lapse, at most two
lease durations, then resumes; an operation leased by another execution or
process is left to it.

On SIGTERM (a task timeout, a shutdown) running exports are suspended at a
checkpoint and the task exits non-zero, so that Cloud Run's retry resumes them.

Logs are JSON lines on stdout in Cloud Logging's format; every line of an
export carries logging.googleapis.com/operation {"id": NAME, "producer":
"pubexport"}, which groups it in the Logs Explorer.

Exit status: 0 when every export succeeded, was cancelled, or is run by
another execution; 1 when one failed or was suspended; 2 when the environment
is invalid. Cloud Run retries a task that exits 1 up to --max-retries times;
that helps only transient failures and suspensions. A permanent failure
(PERMISSION_DENIED, NOT_FOUND, INVALID_ARGUMENT, ...) fails every retry the
same way: fix its cause and execute the job again.

Environment:
` + vars.String(),
		Example: `  # Locally, like a one-task execution
  PUBEXPORT_ORG=acme PUBEXPORT_DESTINATION=gs://acme-exports/apigee PUBEXPORT_FORMAT=parquet pubexport job

  # As a Cloud Run job: one task per resource, retried on failure
  gcloud run jobs deploy pubexport --image REGION-docker.pkg.dev/PROJECT/pubexport/pubexport \
      --args job --tasks 3 --max-retries 3 --task-timeout 3600s \
      --service-account pubexport@PROJECT.iam.gserviceaccount.com \
      --set-env-vars PUBEXPORT_ORG=acme,PUBEXPORT_DESTINATION=gs://acme-exports/apigee,PUBEXPORT_FORMAT=parquet`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runJob(cmd.Context(), a)
		},
	}
}

func runJob(ctx context.Context, a *app) error {
	cfg, err := jobenv.Parse(a.getenv)
	if err != nil {
		return usageError{err}
	}
	if err := checkNotify(jobenv.Notify, cfg.Notify); err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.LogLevel != "" {
		level, _ = cmdlog.ParseLevel(cfg.LogLevel) // jobenv.Parse checked it
	}
	log := slog.New(cmdlog.New(a.stdout, cmdlog.Options{Level: level})).With("task", cfg.TaskIndex, "attempt", cfg.TaskAttempt)

	var reqs []*operationspb.ExportRequest
	storeURI, legacy, storeVar := cfg.Store, "", jobenv.Store
	if cfg.Operation == "" {
		dest, err := normalizeDest(cfg.Destination)
		if err != nil {
			if msg := fieldMessage(err, requestVars); msg != message(err) {
				return usagef("%s", msg)
			}
			return usagef("%s: %s", jobenv.Destination, message(err))
		}
		for _, r := range cfg.Mine() {
			req := jobRequest(cfg, r, dest)
			if _, err := operations.Spec(req); err != nil {
				return usagef("%s", renameField(message(err), requestVars))
			}
			reqs = append(reqs, req)
		}
		if storeURI == "" {
			storeURI, legacy = storeFor(dest)
			storeVar = jobenv.Destination
		}
	} else if cfg.TaskIndex != 0 {
		log.Info("nothing to do: PUBEXPORT_OPERATION is run by task 0", "operation", cfg.Operation)
		return nil
	}
	if cfg.Operation == "" && len(reqs) == 0 {
		log.Info("nothing to do: more tasks than resources", "resources", len(cfg.Resources), "tasks", cfg.TaskCount)
		return nil
	}

	lease, err := leaseFromEnv(a.getenv)
	if err != nil {
		return err
	}
	st, closeStore, err := openStore(ctx, storeVar, storeURI, legacy)
	if err != nil {
		return err
	}
	defer closeStore()
	t := &jobTask{cfg: cfg, st: st, log: log, lease: lease, stopping: make(chan struct{})}
	if cfg.Execution != "" {
		// One holder per attempt: an earlier attempt that is somehow still
		// alive keeps its lease, and this one waits for it to lapse
		// instead of both writing the same export.
		t.holder = fmt.Sprintf("%s/attempt-%d", t.taskPrefix(), cfg.TaskAttempt)
	}
	m, closeNotifier, err := newManager(ctx, a, st, log, t.holder, lease)
	if err != nil {
		return err
	}
	defer closeNotifier()
	t.m = m
	if cfg.ApigeeURL != "" {
		m.KeepApigeeURL(cfg.ApigeeURL) // for an operation recorded without its password
	}
	var closeOnce sync.Once
	closeManager := func() {
		closeOnce.Do(func() {
			if err := m.Close(); err != nil {
				log.Error("suspending exports", "error", err)
			}
		})
	}
	defer closeManager()

	// Subscribe before anything runs, so that a SIGTERM at any point
	// suspends rather than kills.
	sig, stopSignals := a.signals()
	defer stopSignals()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case s := <-sig:
			log.Warn("stopping: suspending exports at their last checkpoint so a retry resumes them", "signal", s.String())
			close(t.stopping)
			closeManager()
		case <-done:
		}
	}()

	names := []string{cfg.Operation}
	if cfg.Operation == "" {
		names = names[:0]
		for _, req := range reqs {
			op, err := t.create(ctx, req)
			if err != nil {
				log.Error("could not record the export", "resource", req.GetResource(), "error", message(err))
				return &exitError{code: exitFailed, err: err}
			}
			names = append(names, op.GetName())
		}
	}

	results := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			log.Info("export running", "operation", name)
			stop := logProgress(m, log, name, cfg.LogProgress)
			defer stop()
			results[i] = t.run(ctx, name)
		})
	}
	wg.Wait()
	var failed int
	for _, err := range results {
		if err != nil {
			failed++
		}
	}
	if failed > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d exports did not finish", failed, len(names))}
	}
	return nil
}

// jobTask is one attempt of one Cloud Run task.
type jobTask struct {
	cfg    *jobenv.Config
	st     store.Store
	m      *operations.Manager
	log    *slog.Logger
	lease  time.Duration
	holder string // "" outside Cloud Run: a random one
	// stopping is closed at SIGTERM: waits end, nothing new starts.
	stopping chan struct{}
}

// taskPrefix starts the lease holder of every attempt of this task.
func (t *jobTask) taskPrefix() string {
	return fmt.Sprintf("%s/task-%d/", t.cfg.Execution, t.cfg.TaskIndex)
}

// retryable are the codes of failures that another attempt may not meet:
// the service or the store was unavailable or overloaded, a race was lost,
// a deadline passed. INTERNAL is left out, as AIP-194 advises: it usually
// means a bug, which a retry meets again.
var retryable = map[codes.Code]bool{
	codes.Unavailable:       true,
	codes.Aborted:           true,
	codes.DeadlineExceeded:  true,
	codes.ResourceExhausted: true,
}

// create records req's export (or gets back the one an earlier attempt of
// this task recorded, by request id). A retry that finds that export ended
// in a transient failure starts it again as a new operation, since
// resuming a done operation is not possible: restart n uses request id n,
// so a later retry finds the newest export of the chain.
func (t *jobTask) create(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	r := apigee.Resource(req.GetResource())
	for restart := 0; ; restart++ {
		req.RequestId = t.cfg.RequestID(r, restart)
		op, err := t.m.Create(ctx, req)
		if err != nil {
			return nil, err
		}
		code := codes.Code(op.GetError().GetCode())
		if t.cfg.TaskAttempt == 0 || restart >= t.cfg.TaskAttempt || !op.GetDone() || !retryable[code] {
			if t.cfg.TaskAttempt > 0 && !op.GetDone() {
				t.log.Info("retried task: resuming its export", "operation", op.GetName(), "resource", req.GetResource())
			}
			return op, nil
		}
		t.log.Warn("retried task: the earlier export ended in a transient failure, starting it again",
			"failed_operation", op.GetName(), "code", code.String(), "resource", req.GetResource())
	}
}

// run runs or resumes operation name until it ends and returns what the
// task's exit status should reflect: nil for an export that succeeded,
// was cancelled (nothing a retry could do) or is run by another execution.
func (t *jobTask) run(ctx context.Context, name string) error {
	deadline := time.Now().Add(2 * t.lease)
	for {
		// Not ctx: stopping is the manager's Close, which keeps the
		// checkpoint; a cancelled context would end the export.
		op, err := t.m.Run(context.WithoutCancel(ctx), name)
		if c := status.Code(err); c != codes.FailedPrecondition && c != codes.Aborted {
			return logOutcome(t.log, name, op, err)
		}
		rec, _, gerr := t.st.Get(ctx, name)
		if gerr != nil {
			return logOutcome(t.log, name, nil, gerr)
		}
		holder := rec.GetLeaseHolder()
		if holder == "" || !rec.GetLeaseExpires().AsTime().After(time.Now()) {
			continue // released or lapsed in between: try again
		}
		if t.cfg.Execution == "" || !strings.HasPrefix(holder, t.taskPrefix()) {
			// Another execution (a duplicate dispatch) or a server's
			// Recover runs it: one runner is enough.
			t.log.Info("export is run by another process; leaving it to it", "operation", name, "holder", holder)
			return nil
		}
		// An earlier attempt of this task holds the lease: it died
		// without releasing it (killed at the end of its grace period, out
		// of memory). Its lease lapses within one lease duration.
		t.log.Info("waiting for the lease of an earlier attempt to lapse", "operation", name, "holder", holder,
			"until", rec.GetLeaseExpires().AsTime().Format(time.RFC3339Nano))
		still, err := awaitLease(ctx, t.st, name, deadline, t.stopping)
		if err != nil {
			return logOutcome(t.log, name, nil, err)
		}
		if still != "" {
			// It renewed its lease for two lease durations: it is alive
			// and running the export.
			t.log.Info("an earlier attempt of this task is still running the export; leaving it to it", "operation", name, "holder", still)
			return nil
		}
	}
}

// awaitLease polls operation name until its lease is released or lapses,
// and returns "" then; or the holder if it still holds a live lease at
// deadline. It returns early with an error when ctx ends or stop closes.
func awaitLease(ctx context.Context, st store.Store, name string, deadline time.Time, stop <-chan struct{}) (string, error) {
	for {
		rec, _, err := st.Get(ctx, name)
		if err != nil {
			return "", err
		}
		now := time.Now()
		expires := rec.GetLeaseExpires().AsTime()
		if rec.GetLeaseHolder() == "" || !expires.After(now) {
			return "", nil
		}
		if !now.Before(deadline) {
			return rec.GetLeaseHolder(), nil
		}
		// Look again just after it would lapse (a live holder renews it
		// meanwhile), and at least every couple of seconds.
		wait := min(expires.Sub(now)+10*time.Millisecond, deadline.Sub(now), 2*time.Second)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return "", status.FromContextError(ctx.Err()).Err()
		case <-stop:
			timer.Stop()
			return "", status.Errorf(codes.Unavailable, "stopped while waiting for the lease of %s to lapse", name)
		case <-timer.C:
		}
	}
}

// logOutcome writes the line Cloud Logging users look for at the end of an
// export and returns the error the task's exit status reflects, if any.
func logOutcome(log *slog.Logger, name string, op *longrunningpb.Operation, err error) error {
	if err == nil && op != nil && !op.GetDone() {
		err = fmt.Errorf("export %s stopped before the end (suspended)", name)
	}
	if err == nil && codes.Code(op.GetError().GetCode()) == codes.Canceled {
		// Retrying cannot help a cancelled export, and it is nobody's
		// failure: exit 0 so that Cloud Run does not run the task again.
		log.Warn("export was cancelled: nothing to do (exit status 0, no retry)", "operation", name, "resource", labelOf(op))
		return nil
	}
	if err == nil {
		err = opError(op)
	}
	if err != nil {
		st, _ := status.FromError(err)
		log.Error("export failed", "operation", name, "code", code.Code(st.Code()).String(), "error", fieldMessage(err, requestVars))
		return err
	}
	r := responseOf(op)
	uris := make([]string, 0, len(r.GetObjects()))
	for _, o := range r.GetObjects() {
		uris = append(uris, o.GetUri())
	}
	log.Info("export finished", "operation", name, "resource", labelOf(op), "records", r.GetRecords(),
		"objects", uris, "manifest", r.GetManifest().GetUri())
	return nil
}

func jobRequest(cfg *jobenv.Config, r apigee.Resource, dest string) *operationspb.ExportRequest {
	req := &operationspb.ExportRequest{
		Parent:         "organizations/" + cfg.Org,
		Resource:       string(r),
		Format:         string(cfg.Format),
		Compression:    string(cfg.Compression),
		Destination:    dest,
		ApigeeUrl:      cfg.ApigeeURL,
		IncludeSecrets: cfg.IncludeSecrets,
		MaxObjectSize:  cfg.MaxObjectSize,
		RequestId:      cfg.RequestID(r, 0),
	}
	if cfg.Format == formats.CSV {
		req.Csv = &operationspb.CsvOptions{Delimiter: cfg.CSVDelimiter, NoHeader: cfg.CSVNoHeader, GuardFormulas: cfg.CSVGuard}
	}
	return req
}

// logProgress logs the export's counters every interval until stopped, so
// that a long export shows it is alive in Cloud Logging.
func logProgress(m *operations.Manager, log *slog.Logger, name string, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			op, err := m.Get(context.Background(), name)
			if err != nil || op.GetDone() {
				continue
			}
			s := snapshotOf(op)
			args := []any{"operation", name, "records", s.Records, "pages", s.Pages, "bytes", s.Bytes, "objects", s.Objects}
			if pct, ok := percent(s); ok {
				args = append(args, "percentDone", pct)
			}
			log.Info("export progress", args...)
		}
	}()
	return func() { close(done) }
}

func percent(s progress.Snapshot) (int64, bool) {
	if s.Total <= 0 {
		return 0, false
	}
	return min(s.Records*100/s.Total, 100), true
}
