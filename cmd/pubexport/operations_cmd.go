package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/cmd/pubexport/internal/opsclient"
	"pubexport/cmd/pubexport/internal/progress"
	"pubexport/export/sink"
	"pubexport/formats/field"
)

type opsFlags struct {
	server, token, store, output string
	apigeeURL                    string // resume only
}

func newOperationsCmd(a *app) *cobra.Command {
	f := &opsFlags{}
	cmd := &cobra.Command{
		Use:     "operations",
		Aliases: []string{"ops"},
		Short:   "Get, list, wait for, cancel and resume export operations",
		Long: `Operations reads and controls export operations, either through a
'pubexport serve' API (--server, with the official google.longrunning REST
client for http(s):// and the gRPC client for grpc(s)://) or directly in an
operation store (--store), e.g. the one a 'pubexport run' wrote beside its
exports.

An operation name looks like organizations/acme/operations/0190e3c4-....`,
		Example: `  pubexport operations list --org acme --server http://127.0.0.1:8080
  pubexport operations get organizations/acme/operations/ID --server http://127.0.0.1:8080
  pubexport operations wait organizations/acme/operations/ID --server grpc://127.0.0.1:8080
  pubexport operations cancel organizations/acme/operations/ID --server https://pubexport-abc.a.run.app \
      --token "$(gcloud auth print-identity-token)"
  pubexport operations list --org acme --store ./exports/.pubexport/operations
  pubexport operations resume organizations/acme/operations/ID --store ./exports/.pubexport/operations`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", "", "'pubexport serve' API `URL`: http://, https://, grpc:// or grpcs:// (default $PUBEXPORT_SERVER)")
	pf.StringVar(&f.token, "token", "", "bearer `TOKEN` for --server (default $PUBEXPORT_TOKEN)")
	pf.StringVar(&f.store, "store", "", "read the operation store at `URI` directly instead of a server: file:///DIR, a folder or gs://BUCKET/PREFIX")
	pf.StringVar(&f.output, "output", "", "text or json (get: json by default; list, wait, cancel: text)")
	cmd.AddCommand(
		newOpsGetCmd(a, f),
		newOpsListCmd(a, f),
		newOpsWaitCmd(a, f),
		newOpsCancelCmd(a, f),
		newOpsResumeCmd(a, f),
	)
	return cmd
}

// open returns the backend the flags name.
func (f *opsFlags) open(ctx context.Context, a *app) (backend, time.Duration, error) {
	if f.output != "" && f.output != "text" && f.output != "json" {
		return nil, 0, usagef("--output %q: want text or json", f.output)
	}
	server := f.server
	if server == "" && f.store == "" {
		server = a.getenv("PUBEXPORT_SERVER")
	}
	switch {
	case server != "" && f.store != "":
		return nil, 0, usagef("give either --server or --store, not both")
	case server != "":
		token := f.token
		if token == "" {
			token = a.getenv("PUBEXPORT_TOKEN")
		}
		c, err := opsclient.Dial(ctx, server, token)
		if err != nil {
			return nil, 0, usageError{err}
		}
		return c, 500 * time.Millisecond, nil
	case f.store != "":
		if err := storeExists(f.store); err != nil {
			return nil, 0, err
		}
		be, err := newLocal(ctx, a, "--store", f.store, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, 0, err
		}
		return be, 500 * time.Millisecond, nil
	}
	return nil, 0, usagef("--server (or $PUBEXPORT_SERVER) or --store is required: where are the operations?")
}

// storeExists refuses a local store folder that does not exist with
// NOT_FOUND: only a run creates a store, and a mistyped --store must not
// answer "No operations" (and leave an empty folder behind).
func storeExists(uri string) error {
	loc, err := sink.ParseURI(uri)
	if err != nil || loc.Bucket != "" {
		return nil // refused, or checked, when opened
	}
	if _, err := os.Stat(loc.Dir); errors.Is(err, fs.ErrNotExist) {
		return status.Errorf(codes.NotFound, "--store %s: the operation store folder does not exist; give the store a run used (by default DESTINATION/.pubexport/operations)", field.Echo(loc.Dir))
	}
	return nil
}

// where is the flag that names the backend, for the commands a message
// suggests.
func (f *opsFlags) where(a *app) string {
	if f.store != "" {
		return "--store " + f.store
	}
	if f.server != "" {
		return "--server " + f.server
	}
	return "--server " + a.getenv("PUBEXPORT_SERVER")
}

func checkOpName(name string) error {
	p := strings.Split(name, "/")
	if len(p) != 4 || p[0] != "organizations" || p[1] == "" || p[2] != "operations" || p[3] == "" {
		return usagef("%q is not an operation name: want organizations/ORG/operations/ID", name)
	}
	return nil
}

// opsRun is the body of an `operations` subcommand, given the backend the
// flags name and how often to poll it.
type opsRun func(ctx context.Context, be backend, interval time.Duration, args []string) error

// runE is the prologue the subcommands that work through --server or
// --store share: the operation NAME is checked (for commands that take
// one) before anything is opened, then the backend is opened for run and
// closed after it.
func (f *opsFlags) runE(a *app, takesName bool, run opsRun) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if takesName {
			if err := checkOpName(args[0]); err != nil {
				return err
			}
		}
		be, interval, err := f.open(cmd.Context(), a)
		if err != nil {
			return err
		}
		defer be.Close()
		return run(cmd.Context(), be, interval, args)
	}
}

// outputOr is --output, or def when it is not given.
func (f *opsFlags) outputOr(def string) string {
	if f.output == "" {
		return def
	}
	return f.output
}

func newOpsGetCmd(a *app, f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Print an operation (as JSON by default)",
		Example: `  pubexport operations get organizations/acme/operations/ID --server http://127.0.0.1:8080
  pubexport operations get organizations/acme/operations/ID --server http://127.0.0.1:8080 --output text`,
		Args: exactlyOneName("operation NAME"),
		RunE: f.runE(a, true, func(ctx context.Context, be backend, _ time.Duration, args []string) error {
			op, err := be.Get(ctx, args[0])
			if err != nil {
				return err
			}
			if f.output == "text" {
				printTable(a.stdout, []*longrunningpb.Operation{op})
				if op.GetDone() {
					printResult(a.stdout, op)
				}
				return nil
			}
			return printJSON(a.stdout, op)
		}),
	}
}

func newOpsListCmd(a *app, f *opsFlags) *cobra.Command {
	var org, filter string
	var limit int
	cmd := &cobra.Command{
		Use:   "list --org ORG",
		Short: "List an organization's operations, newest first",
		Example: `  pubexport operations list --org acme --server http://127.0.0.1:8080
  pubexport operations list --org acme --server http://127.0.0.1:8080 --filter done=false
  pubexport operations list --org acme --store ./exports/.pubexport/operations --output json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if org == "" {
				return usagef("--org is required: the organization whose operations to list")
			}
			if limit < 0 {
				return usagef("--limit %d: want 0 (all) or more", limit)
			}
			return f.runE(a, false, func(ctx context.Context, be backend, _ time.Duration, _ []string) error {
				ops, err := be.List(ctx, "organizations/"+org, filter, limit)
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSON(a.stdout, &longrunningpb.ListOperationsResponse{Operations: ops})
				}
				if len(ops) == 0 {
					fmt.Fprintf(a.stderr, "No operations in organizations/%s.\n", org)
					return nil
				}
				printTable(a.stdout, ops)
				return nil
			})(cmd, nil)
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "Apigee organization `NAME`")
	cmd.Flags().StringVar(&filter, "filter", "", "AIP-160 `FILTER` understood by the server, e.g. done=false")
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most `N` operations (default all)")
	return cmd
}

func newOpsWaitCmd(a *app, f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "wait NAME",
		Short: "Show an operation's progress until it ends; exit non-zero if it failed",
		Long: `Wait polls the operation with GetOperation and shows its progress (a bar on a
terminal, log lines otherwise) until it is done, then prints its objects and
manifest like 'run' does. It exits 1 with the operation's error if the export
failed. Ctrl-C only stops the watching (exit status 130), as gcloud does: the
export goes on, and wait prints the 'pubexport operations cancel NAME' command
that stops it. SIGTERM and SIGHUP stop the watching too (exit status 143 and
129).`,
		Example: `  pubexport operations wait organizations/acme/operations/ID --server http://127.0.0.1:8080
  pubexport operations wait organizations/acme/operations/ID --server http://127.0.0.1:8080 --output json`,
		Args: exactlyOneName("operation NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Subscribe before anything starts, so that a signal stops
			// the watching as the help says instead of killing.
			sig, stopSignals := a.signals()
			defer stopSignals()
			return f.runE(a, true, func(ctx context.Context, be backend, interval time.Duration, args []string) error {
				return waitOperation(ctx, a, f, be, interval, sig, args[0])
			})(cmd, args)
		},
	}
}

// waitOperation is `operations wait`: it watches operation name like
// `run` does, detached (Ctrl-C stops the watching, not the export), and
// prints its result.
func waitOperation(ctx context.Context, a *app, f *opsFlags, be backend, interval time.Duration, sig <-chan os.Signal, name string) error {
	op, err := be.Get(ctx, name)
	if err != nil {
		return err
	}
	disp := progress.New(a.stderr, progress.Options{Terminal: a.terminal})
	w := &watched{op: op, task: disp.Add(labelOf(op))}
	if op.GetDone() {
		w.task.Finish(snapshotOf(op), shortFailure(op))
	}
	wr := &watcher{a: a, be: be, items: []*watched{w}, interval: interval, msgs: disp.Writer(), sig: sig,
		detach: "pubexport operations cancel %s " + f.where(a)}
	stopped, werr := wr.run(ctx, nil)
	disp.Wait()
	if werr != nil {
		return werr
	}
	if wr.detached {
		return wr.detachedError(finish(a, f.outputOr("text"), []*watched{w}, nil, ""))
	}
	return finish(a, f.outputOr("text"), []*watched{w}, stopped, "")
}

func newOpsCancelCmd(a *app, f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel NAME",
		Short: "Cancel an operation: it ends CANCELLED and its staging objects are removed",
		Example: `  pubexport operations cancel organizations/acme/operations/ID --server http://127.0.0.1:8080
  pubexport operations wait organizations/acme/operations/ID --server http://127.0.0.1:8080   # until it has stopped`,
		Args: exactlyOneName("operation NAME"),
		RunE: f.runE(a, true, func(ctx context.Context, be backend, _ time.Duration, args []string) error {
			if err := be.Cancel(ctx, args[0]); err != nil {
				return err
			}
			if f.output == "json" {
				op, err := be.Get(ctx, args[0])
				if err != nil {
					return err
				}
				return printJSON(a.stdout, op)
			}
			fmt.Fprintf(a.stdout, "Cancellation requested for %s.\n", args[0])
			return nil
		}),
	}
}

func newOpsResumeCmd(a *app, f *opsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "resume NAME --store URI",
		Short: "Run or resume a recorded operation here, from its last checkpoint",
		Long: `Resume runs a recorded operation in this process until it ends, showing its
progress like 'run' does: a NOT_STARTED operation starts, and one whose runner
stopped (a 'run' that got SIGTERM or was killed with kill -9, a job task that
timed out) continues from its last checkpoint. Parquet exports, which have
none, start over. It needs the operation store (--store), the one the export
was recorded in: by default gs://BUCKET/.pubexport/operations for a Cloud Storage
destination and ROOT/.pubexport/operations for a folder ('run', 'job').

When another process still holds the operation's lease, resume waits for it
to lapse (a killed process's lease lapses within 30 seconds), up to two lease
durations; a process that keeps renewing it is alive and running the export,
and resume leaves it alone (FAILED_PRECONDITION): 'operations wait' follows it.

A done operation is printed and left as it is. Ctrl-C cancels the export,
SIGTERM and SIGHUP suspend it again; a second signal exits at once.`,
		Example: `  # Continue an export whose 'pubexport run' was killed
  pubexport operations list --org acme --store ./exports/.pubexport/operations --filter done=false
  pubexport operations resume organizations/acme/operations/ID --store ./exports/.pubexport/operations

  # Run an export that 'serve --dispatch cloudrun' recorded, here instead of in a job
  pubexport operations resume organizations/acme/operations/ID --store gs://acme-exports/pubexport-ops`,
		Args: exactlyOneName("operation NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOpName(args[0]); err != nil {
				return err
			}
			if f.server != "" || f.store == "" {
				return usagef("resume runs the export in this process: give --store (the operation store), not --server")
			}
			return resumeOperation(cmd.Context(), a, f, args[0])
		},
	}
	cmd.Flags().StringVar(&f.apigeeURL, "apigee-url", "", "the export's Apigee base `URL` with its password (http://user:pass@host), which operation records do not keep")
	return cmd
}

// resumeOperation is `operations resume`: Manager.Run in this process,
// watched like `run`.
func resumeOperation(ctx context.Context, a *app, f *opsFlags, name string) error {
	sig, stopSignals := a.signals()
	defer stopSignals()
	disp := progress.New(a.stderr, progress.Options{Terminal: a.terminal})
	msgs := disp.Writer()
	be, err := openResume(ctx, a, f, msgs)
	if err != nil {
		disp.Wait()
		return err
	}
	defer be.Close()
	op, err := be.Get(ctx, name)
	if err != nil {
		disp.Wait()
		return err
	}
	w := &watched{op: op, task: disp.Add(labelOf(op))}
	if op.GetDone() {
		fmt.Fprintf(msgs, "%s is already done: nothing to resume.\n", name)
		w.task.Finish(snapshotOf(op), shortFailure(op))
		disp.Wait()
		return finish(a, f.outputOr("text"), []*watched{w}, nil, "")
	}
	if err := awaitResumable(ctx, be, name, f.store, sig, msgs); err != nil {
		w.task.Finish(snapshotOf(op), errors.New("not resumed"))
		disp.Wait()
		return err
	}
	fmt.Fprintf(msgs, "Resuming %s export %s\n", labelOf(op), name)
	stopped, err := runWatched(ctx, a, be, w, sig, disp)
	if err != nil {
		return err
	}
	return finish(a, f.outputOr("text"), []*watched{w}, stopped, "pubexport operations resume %s --store "+f.store)
}

// openResume opens the store --store names, refusing a folder that does
// not exist, with a manager that logs its warnings among the progress
// lines. --apigee-url gives back the password operation records leave out.
func openResume(ctx context.Context, a *app, f *opsFlags, msgs io.Writer) (*local, error) {
	log := slog.New(slog.NewTextHandler(msgs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := storeExists(f.store); err != nil {
		return nil, err
	}
	be, err := newLocal(ctx, a, "--store", f.store, log)
	if err != nil {
		return nil, err
	}
	if f.apigeeURL != "" {
		be.m.KeepApigeeURL(f.apigeeURL)
	}
	return be, nil
}

// awaitResumable waits until operation name may be taken over: a killed
// runner's lease must lapse first. It fails with FAILED_PRECONDITION when
// the holder keeps renewing its lease (it is alive), and ends early at a
// signal, with that signal's exit status.
func awaitResumable(ctx context.Context, be *local, name, storeURI string, sig <-chan os.Signal, msgs io.Writer) error {
	stop := make(chan struct{})
	waited := make(chan struct{})
	var holder string
	var err error
	go func() {
		defer close(waited)
		rec, _, gerr := be.st.Get(ctx, name)
		if gerr == nil && rec.GetLeaseHolder() != "" && rec.GetLeaseExpires().AsTime().After(time.Now()) {
			fmt.Fprintf(msgs, "Waiting for the lease of %s to lapse (until %s)...\n", rec.GetLeaseHolder(), rec.GetLeaseExpires().AsTime().Local().Format(time.TimeOnly))
		}
		holder, err = awaitLease(ctx, be.st, name, time.Now().Add(2*be.lease), stop)
	}()
	select {
	case <-waited:
	case s := <-sig:
		close(stop)
		<-waited
		return &exitError{code: signalExit(s), err: fmt.Errorf("stopped by %s before %s was resumed", s, name)}
	}
	if err == nil && holder != "" {
		err = status.Errorf(codes.FailedPrecondition, "%s is being run by %s, which keeps renewing its lease: it is alive; follow it with 'pubexport operations wait %s --store %s', or cancel it", name, holder, name, storeURI)
	}
	return err
}

// runWatched runs w's operation in this process and watches it until it
// ends or a signal stops it, and returns that signal, if any. An error of
// the run itself wins over the watch's.
func runWatched(ctx context.Context, a *app, be *local, w *watched, sig <-chan os.Signal, disp *progress.Display) (os.Signal, error) {
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var runErr error
	ran := make(chan struct{})
	name := w.op.GetName() // read here: the watcher replaces w.op as it polls
	go func() {
		defer close(ran)
		// Not ctx: signals reach the export through the watcher (Cancel,
		// or the manager's Close, which keeps the checkpoint).
		if _, err := be.m.Run(context.WithoutCancel(ctx), name); err != nil {
			runErr = err
			stopWatch()
		}
	}()
	wr := &watcher{a: a, be: be, items: []*watched{w}, interval: 200 * time.Millisecond, msgs: disp.Writer(), sig: sig}
	stopped, err := wr.run(wctx, nil)
	disp.Wait()
	if stopped == nil || cancels(stopped) {
		<-ran // Run returns as soon as the export has ended
	}
	if runErr != nil {
		return stopped, runErr
	}
	return stopped, err
}
