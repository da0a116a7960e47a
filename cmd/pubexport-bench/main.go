// Command pubexport-bench runs pubexport's benchmark harness and prints one
// table of figures, each set against the reference that gives it meaning:
// end-to-end wall time against the paging floor, exporter memory at two
// organization sizes, encoder and pipeline throughput against protojson and
// Apigee's quota, and the polling API under concurrent load.
//
// It reports and never asserts: a slow figure is information, not a failure.
// The same figures are written as JSON (./bench.json or --json FILE) for
// tooling.
//
// Usage:
//
//	pubexport-bench [--quick] [--only SECTION] [--json FILE]
//
// Sections: wall, rss, encode, pipeline, polling, gcs.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if spec, ok := os.LookupEnv(childEnv); ok {
		os.Exit(childMain(spec, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole harness behind main, so that the test drives exactly
// what `make bench` runs.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err == errHelp {
			return 0
		}
		fmt.Fprintln(stderr, "pubexport-bench:", err)
		return 2
	}
	if err := bench(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "pubexport-bench:", err)
		return 1
	}
	return 0
}
