package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/layout"
	"pubexport/export/sink"
)

func newLatestCmd(a *app) *cobra.Command {
	var org, resource, to, output string
	cmd := &cobra.Command{
		Use:   "latest --org ORG --resource RESOURCE --to URI",
		Short: "Print where the newest export of a resource is (its manifest and objects)",
		Long: `Latest reads the pointer every successful export leaves under the root of its
destination (the part of --to before the first placeholder), at
ROOT/LATEST/ORG/RESOURCE.json, and prints the manifest and objects it names.
The pointer only ever moves to an export that started later, so an old export
that finishes late does not take it back.

--to is the destination the exports were given, placeholders included
(gs://BUCKET/apigee/{resource}/{date}), or its root (gs://BUCKET/apigee).`,
		Example: `  pubexport latest --org acme --resource apps --to 'gs://acme-exports/apigee/{resource}/{date}'
  pubexport latest --org acme --resource apps --to gs://acme-exports/apigee --output json | jq -r '.objects[]'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printLatest(cmd.Context(), a, org, resource, to, output)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&org, "org", "", "Apigee organization `NAME`")
	fl.StringVar(&resource, "resource", "", resourceNames())
	fl.StringVar(&to, "to", "", "the exports' destination `URI` (placeholders allowed) or its root")
	fl.StringVar(&output, "output", "text", "text, or json (the pointer as it is stored)")
	return cmd
}

func printLatest(ctx context.Context, a *app, org, resource, to, output string) error {
	switch {
	case org == "":
		return usagef("--org is required: the organization whose latest export to show")
	case resource == "":
		return usagef("--resource is required: %s", resourceNames())
	case to == "":
		return usagef("--to is required: the destination the exports were given, e.g. gs://BUCKET/apigee/{resource}/{date}")
	case output != "text" && output != "json":
		return usagef("--output %q: want text or json", output)
	}
	if _, err := apigee.ParseResource(resource); err != nil {
		return usagef("--resource %q: want %s", resource, resourceNames())
	}
	dest, err := normalizeDest(to)
	if err != nil {
		return err
	}
	root, err := sink.Open(ctx, layout.Root(dest), sinkOptions(a)...)
	if err != nil {
		return err
	}
	defer root.Close()
	l, err := export.ReadLatest(ctx, root, org, resource)
	if err != nil {
		return err
	}
	if output == "json" {
		b, err := json.MarshalIndent(l, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(a.stdout, "%s of %s: %d records, exported %s", l.Resource, l.Organization, l.Records, l.RunTime.UTC().Format(time.RFC3339))
	if l.Operation != "" {
		fmt.Fprintf(a.stdout, " (%s)", l.Operation)
	}
	fmt.Fprintln(a.stdout)
	for _, o := range l.Objects {
		fmt.Fprintf(a.stdout, "  %s\n", o)
	}
	if l.Schema != "" {
		fmt.Fprintf(a.stdout, "  schema: %s\n", l.Schema)
	}
	fmt.Fprintf(a.stdout, "  manifest: %s\n", l.Manifest)
	return nil
}
