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
	"google.golang.org/grpc/status"

	"pubexport/cmd/pubexport/internal/cmdlog"
	"pubexport/cmd/pubexport/internal/jobenv"
	"pubexport/cmd/pubexport/internal/progress"
	"pubexport/export/apigee"
	"pubexport/formats"
	"pubexport/operations"
	"pubexport/operations/operationspb"
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
resumes it from its last checkpoint instead of starting over.

With PUBEXPORT_OPERATION (set by 'serve --dispatch cloudrun'), task 0 runs or
resumes that recorded operation and other tasks have nothing to do.

On SIGTERM (a task timeout, a shutdown) running exports are suspended at a
checkpoint and the task exits non-zero, so that Cloud Run's retry resumes them.

Logs are JSON lines on stdout in Cloud Logging's format; every line of an
export carries logging.googleapis.com/operation {"id": NAME, "producer":
"pubexport"}, which groups it in the Logs Explorer.

Exit status: 0 when every export succeeded, 1 when one failed or was
suspended, 2 when the environment is invalid.

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
	level, _ := parseLevel(cfg.LogLevel)
	if cfg.LogLevel == "" {
		level = slog.LevelInfo
	}
	log := slog.New(cmdlog.New(a.stdout, cmdlog.Options{Level: level})).With("task", cfg.TaskIndex, "attempt", cfg.TaskAttempt)

	var reqs []*operationspb.ExportRequest
	storeURI := cfg.Store
	if cfg.Operation == "" {
		dest, err := normalizeDest(cfg.Destination)
		if err != nil {
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
			storeURI = storeFor(dest)
		}
	} else if cfg.TaskIndex != 0 {
		log.Info("nothing to do: PUBEXPORT_OPERATION is run by task 0", "operation", cfg.Operation)
		return nil
	}
	if cfg.Operation == "" && len(reqs) == 0 {
		log.Info("nothing to do: more tasks than resources", "resources", len(cfg.Resources), "tasks", cfg.TaskCount)
		return nil
	}

	st, closeStore, err := openStore(ctx, jobenv.Store, storeURI)
	if err != nil {
		return err
	}
	defer closeStore()
	holder := ""
	if cfg.Execution != "" {
		// A retried task takes over the lease its failed attempt held.
		holder = fmt.Sprintf("%s/task-%d", cfg.Execution, cfg.TaskIndex)
	}
	m, err := newManager(ctx, st, log, holder)
	if err != nil {
		return err
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

	names := []string{cfg.Operation}
	if cfg.Operation == "" {
		names = names[:0]
		for _, req := range reqs {
			op, err := m.Create(ctx, req)
			if err != nil {
				log.Error("could not record the export", "resource", req.GetResource(), "error", message(err))
				return &exitError{code: exitFailed, err: err}
			}
			names = append(names, op.GetName())
			if cfg.TaskAttempt > 0 {
				log.Info("retried task: resuming its export", "operation", op.GetName(), "resource", req.GetResource())
			}
		}
	}

	sig, stopSignals := a.signals()
	defer stopSignals()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case s := <-sig:
			log.Warn("stopping: suspending exports at their last checkpoint so a retry resumes them", "signal", s.String())
			closeManager()
		case <-done:
		}
	}()

	results := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			log.Info("export running", "operation", name)
			stop := logProgress(m, log, name, cfg.LogProgress)
			defer stop()
			// Not ctx: stopping is the manager's Close, which keeps the
			// checkpoint; a cancelled context would end the export.
			op, err := m.Run(context.WithoutCancel(ctx), name)
			results[i] = logOutcome(log, name, op, err)
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

// logOutcome writes the line Cloud Logging users look for at the end of an
// export and returns its error, if any.
func logOutcome(log *slog.Logger, name string, op *longrunningpb.Operation, err error) error {
	if err == nil && op != nil && !op.GetDone() {
		err = fmt.Errorf("export %s stopped before the end (suspended)", name)
	}
	if err == nil {
		err = opError(op)
	}
	if err != nil {
		st, _ := status.FromError(err)
		log.Error("export failed", "operation", name, "code", code.Code(st.Code()).String(), "error", message(err))
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
		RequestId:      cfg.RequestID(r),
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
