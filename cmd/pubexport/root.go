package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"pubexport/export/apigee"
)

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "pubexport",
		Short: "Export Apigee developers, apps and API products to Cloud Storage",
		Long: `pubexport exports Apigee publishing data - developers, apps and API products -
to Cloud Storage or a local folder as JSON, NDJSON, CSV or Parquet. Every
export is a google.longrunning operation: it can be watched, listed, cancelled,
and resumed after a crash, and it ends with content-addressed
ExportFinal_<sha256> objects plus a manifest.

Consumer secrets are redacted unless --include-secrets is given.

Start offline, with the bundled sample organization:
  pubexport run`,
		Example: `  # Offline: export the bundled sample organization to ./exports
  pubexport run

  # Real Apigee (Application Default Credentials) to Cloud Storage as Parquet
  pubexport run --org acme --to gs://acme-exports/apigee --format parquet

  # An API that runs exports for others, and a client of it
  pubexport serve --addr 127.0.0.1:8080 --store file:///var/lib/pubexport/operations
  pubexport run --server http://127.0.0.1:8080 --org acme --to gs://acme-exports/apigee
  pubexport operations list --org acme --server http://127.0.0.1:8080`,
		Version:       "set", // printed by the version template
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err}
	})
	root.PersistentFlags().DurationVar(&a.apigeeTimeout, "apigee-timeout", 0,
		"deadline of each try of an Apigee request, headers and whole body; a try out of time is retried for up to 2 minutes (default 60s, or $"+apigeeTimeoutVar+")")
	root.PersistentFlags().IntVar(&a.maxParallel, "max-parallel-requests", apigee.DefaultParallelRequests,
		fmt.Sprintf("Apigee requests in flight at once for one export, 1 to %d; the apps passes are read at the same time up to it, with output identical to 1 (or $%s)", apigee.MaxParallelRequests, maxParallelVar))
	root.SetVersionTemplate(versionText())
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		a.maxParallelSet = cmd.Flags().Changed("max-parallel-requests")
		if a.environ == nil {
			return nil
		}
		return checkEnv(a.environ())
	}
	root.AddCommand(newRunCmd(a), newServeCmd(a), newOperationsCmd(a), newJobCmd(a), newLatestCmd(a), newVersionCmd(a))
	return root
}

// commandPath is the deepest command args name, for the --help hint.
func commandPath(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return root.Name()
	}
	return cmd.CommandPath()
}

// args helpers: cobra's own messages do not say what a NAME looks like.
func exactlyOneName(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("%s takes exactly one %s, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

// noArgs rejects positional arguments as a usage error naming them
// (cobra.NoArgs reports them as an "unknown command").
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q: options are flags, e.g. --resource apps", cmd.CommandPath(), args)
	}
	return nil
}
