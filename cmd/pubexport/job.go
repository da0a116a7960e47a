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

// runJob is `pubexport job`: one attempt of one Cloud Run task, from its
// environment to its exit status. Each step below is one thing a task must
// get right; the order matters where a comment says so.
func runJob(ctx context.Context, a *app) error {
	cfg, log, err := jobConfig(a)
	if err != nil {
		return err
	}
	plan, err := planJob(cfg, log)
	if err != nil || plan == nil {
		return err
	}
	a.limitMemory(plan.reqs)
	t, closeTask, err := openJobTask(ctx, a, cfg, plan, log)
	if err != nil {
		return err
	}
	defer closeTask()
	// Subscribe before anything runs, so that a SIGTERM at any point
	// suspends rather than kills.
	stopSignals := t.suspendOnSignal(a)
	defer stopSignals()
	names, err := t.operations(ctx, plan.reqs)
	if err != nil {
		return err
	}
	return t.runAll(ctx, names)
}

// jobConfig reads the environment and makes the task's logger. A job has
// no flags to fall back on, so a bad variable ends it here (exit status 2,
// naming the variable) before anything is opened.
func jobConfig(a *app) (*jobenv.Config, *slog.Logger, error) {
	cfg, err := jobenv.Parse(a.getenv)
	if err != nil {
		return nil, nil, usageError{err}
	}
	if err := checkNotify(jobenv.Notify, cfg.Notify); err != nil {
		return nil, nil, err
	}
	level := slog.LevelInfo
	if cfg.LogLevel != "" {
		level, _ = cmdlog.ParseLevel(cfg.LogLevel) // jobenv.Parse checked it
	}
	log := slog.New(cmdlog.New(a.stdout, cmdlog.Options{Level: level})).With("task", cfg.TaskIndex, "attempt", cfg.TaskAttempt)
	return cfg, log, nil
}

// jobPlan is what one task attempt does: the exports it starts (none when
// it runs a recorded operation) and the operation store that records them,
// with the variable that named the store, for its errors.
type jobPlan struct {
	reqs                       []*operationspb.ExportRequest
	storeURI, legacy, storeVar string
}

// planJob works out the task's share of the exports and checks each request
// as the API would, so that a bad variable fails every task alike (exit
// status 2) before any store is opened. A nil plan means the task has
// nothing to do (more tasks than resources, or a recorded operation that
// task 0 runs); planJob logs why.
func planJob(cfg *jobenv.Config, log *slog.Logger) (*jobPlan, error) {
	if cfg.Operation != "" {
		if cfg.TaskIndex != 0 {
			log.Info("nothing to do: PUBEXPORT_OPERATION is run by task 0", "operation", cfg.Operation)
			return nil, nil
		}
		return &jobPlan{storeURI: cfg.Store, storeVar: jobenv.Store}, nil
	}
	dest, err := normalizeDest(cfg.Destination)
	if err != nil {
		if msg := fieldMessage(err, requestVars); msg != message(err) {
			return nil, usagef("%s", msg)
		}
		return nil, usagef("%s: %s", jobenv.Destination, message(err))
	}
	p := &jobPlan{storeURI: cfg.Store, storeVar: jobenv.Store}
	for _, r := range cfg.Mine() {
		req := jobRequest(cfg, r, dest)
		if _, err := operations.Spec(req); err != nil {
			return nil, usagef("%s", renameField(message(err), requestVars))
		}
		p.reqs = append(p.reqs, req)
	}
	if p.storeURI == "" {
		p.storeURI, p.legacy = storeFor(dest)
		p.storeVar = jobenv.Destination
	}
	if len(p.reqs) == 0 {
		log.Info("nothing to do: more tasks than resources", "resources", len(cfg.Resources), "tasks", cfg.TaskCount)
		return nil, nil
	}
	return p, nil
}

// openJobTask opens the plan's store and a manager whose leases carry this
// attempt's name. The returned close suspends what still runs, then closes
// the manager's notifier and the store, in that order.
func openJobTask(ctx context.Context, a *app, cfg *jobenv.Config, plan *jobPlan, log *slog.Logger) (*jobTask, func(), error) {
	lease, err := leaseFromEnv(a.getenv)
	if err != nil {
		return nil, nil, err
	}
	st, closeStore, err := openStore(ctx, a, plan.storeVar, plan.storeURI, plan.legacy)
	if err != nil {
		return nil, nil, err
	}
	t := &jobTask{cfg: cfg, st: st, log: log, lease: lease, stopping: make(chan struct{})}
	if cfg.Execution != "" {
		// One holder per attempt: an earlier attempt that is somehow still
		// alive keeps its lease, and this one waits for it to lapse
		// instead of both writing the same export.
		t.holder = fmt.Sprintf("%s/attempt-%d", t.taskPrefix(), cfg.TaskAttempt)
	}
	m, closeNotifier, err := newManager(ctx, a, st, log, t.holder, lease)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	t.m = m
	if cfg.ApigeeURL != "" {
		m.KeepApigeeURL(cfg.ApigeeURL) // for an operation recorded without its password
	}
	return t, func() {
		t.suspend()
		closeNotifier()
		closeStore()
	}, nil
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
	stopping    chan struct{}
	suspendOnce sync.Once
}

// suspend closes the manager, which stops the exports it runs at their
// last checkpoint (releasing their leases) so that a retry resumes them.
// A signal and the end of runJob may both call it; it runs once.
func (t *jobTask) suspend() {
	t.suspendOnce.Do(func() {
		if err := t.m.Close(); err != nil {
			t.log.Error("suspending exports", "error", err)
		}
	})
}

// suspendOnSignal subscribes to signals and suspends the task at the first
// (a task timeout, a shutdown): Cloud Run kills a task some seconds after
// SIGTERM, and an export suspended by then is resumed by the retry instead
// of started over. stop ends the subscription.
func (t *jobTask) suspendOnSignal(a *app) (stop func()) {
	sig, stopSignals := a.signals()
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sig:
			t.log.Warn("stopping: suspending exports at their last checkpoint so a retry resumes them", "signal", s.String())
			close(t.stopping)
			t.suspend()
		case <-done:
		}
	}()
	return func() {
		close(done)
		stopSignals()
	}
}

// operations returns the names of the operations the task runs: the
// recorded one it was given, or those it records for reqs (getting back
// the ones an earlier attempt recorded).
func (t *jobTask) operations(ctx context.Context, reqs []*operationspb.ExportRequest) ([]string, error) {
	if t.cfg.Operation != "" {
		return []string{t.cfg.Operation}, nil
	}
	var names []string
	for _, req := range reqs {
		op, err := t.create(ctx, req)
		if err != nil {
			t.log.Error("could not record the export", "resource", req.GetResource(), "error", message(err))
			return nil, &exitError{code: exitFailed, err: err}
		}
		names = append(names, op.GetName())
	}
	return names, nil
}

// runAll runs the operations side by side, logging the progress of each,
// and fails (exit status 1, so that Cloud Run retries the task) when any
// of them did not finish.
func (t *jobTask) runAll(ctx context.Context, names []string) error {
	results := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			t.log.Info("export running", "operation", name)
			stop := logProgress(t.m, t.log, name, t.cfg.LogProgress)
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
