package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/spf13/cobra"

	"pubexport/cmd/pubexport/internal/opsclient"
	"pubexport/cmd/pubexport/internal/progress"
)

type opsFlags struct {
	server, token, store, output string
}

func newOperationsCmd(a *app) *cobra.Command {
	f := &opsFlags{}
	cmd := &cobra.Command{
		Use:     "operations",
		Aliases: []string{"ops"},
		Short:   "Get, list, wait for and cancel export operations",
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
  pubexport operations list --org acme --store ./exports/.pubexport/operations`,
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
		be, err := newLocal(ctx, "--store", f.store, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, 0, err
		}
		return be, 500 * time.Millisecond, nil
	}
	return nil, 0, usagef("--server (or $PUBEXPORT_SERVER) or --store is required: where are the operations?")
}

func checkOpName(name string) error {
	p := strings.Split(name, "/")
	if len(p) != 4 || p[0] != "organizations" || p[1] == "" || p[2] != "operations" || p[3] == "" {
		return usagef("%q is not an operation name: want organizations/ORG/operations/ID", name)
	}
	return nil
}

func newOpsGetCmd(a *app, f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Print an operation (as JSON by default)",
		Example: `  pubexport operations get organizations/acme/operations/ID --server http://127.0.0.1:8080
  pubexport operations get organizations/acme/operations/ID --server http://127.0.0.1:8080 --output text`,
		Args: exactlyOneName("operation NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOpName(args[0]); err != nil {
				return err
			}
			be, _, err := f.open(cmd.Context(), a)
			if err != nil {
				return err
			}
			defer be.Close()
			op, err := be.Get(cmd.Context(), args[0])
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
		},
	}
}

func newOpsListCmd(a *app, f *opsFlags) *cobra.Command {
	var org, filter string
	var limit int
	cmd := &cobra.Command{
		Use:   "list --org ORG",
		Short: "List an organization's operations, oldest first",
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
			be, _, err := f.open(cmd.Context(), a)
			if err != nil {
				return err
			}
			defer be.Close()
			ops, err := be.List(cmd.Context(), "organizations/"+org, filter, limit)
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
failed. Ctrl-C cancels the operation; a second Ctrl-C exits at once.`,
		Example: `  pubexport operations wait organizations/acme/operations/ID --server http://127.0.0.1:8080
  pubexport operations wait organizations/acme/operations/ID --server http://127.0.0.1:8080 --output json`,
		Args: exactlyOneName("operation NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOpName(args[0]); err != nil {
				return err
			}
			ctx := cmd.Context()
			be, interval, err := f.open(ctx, a)
			if err != nil {
				return err
			}
			defer be.Close()
			op, err := be.Get(ctx, args[0])
			if err != nil {
				return err
			}
			disp := progress.New(a.stderr, progress.Options{Terminal: a.terminal})
			w := &watched{op: op, task: disp.Add(labelOf(op))}
			if op.GetDone() {
				w.task.Finish(snapshotOf(op), shortFailure(op))
			}
			interrupted, werr := watch(ctx, a, be, []*watched{w}, interval, disp.Writer())
			disp.Wait()
			if werr != nil {
				return werr
			}
			output := f.output
			if output == "" {
				output = "text"
			}
			return finish(a, output, []*watched{w}, interrupted)
		},
	}
}

func newOpsCancelCmd(a *app, f *opsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel NAME",
		Short: "Cancel an operation: it ends CANCELLED and its staging objects are removed",
		Example: `  pubexport operations cancel organizations/acme/operations/ID --server http://127.0.0.1:8080
  pubexport operations wait organizations/acme/operations/ID --server http://127.0.0.1:8080   # until it has stopped`,
		Args: exactlyOneName("operation NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOpName(args[0]); err != nil {
				return err
			}
			be, _, err := f.open(cmd.Context(), a)
			if err != nil {
				return err
			}
			defer be.Close()
			if err := be.Cancel(cmd.Context(), args[0]); err != nil {
				return err
			}
			if f.output == "json" {
				op, err := be.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printJSON(a.stdout, op)
			}
			fmt.Fprintf(a.stdout, "Cancellation requested for %s.\n", args[0])
			return nil
		},
	}
}
