package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// sections are the parts of the harness in the order they run and print.
var sections = []string{"wall", "rss", "encode", "pipeline", "polling", "gcs"}

var errHelp = errors.New("help requested")

// config is what one harness run measures and how big. The full sizes are
// the issue's; --quick shrinks every one of them to a smoke test that still
// goes through every code path.
type config struct {
	quick    bool
	only     string
	jsonPath string
	// budget bounds the whole run: a section that would pass it is reported
	// as skipped rather than left to run on.
	budget time.Duration
	// repeat is how often the timed exports of wall and pipeline run; the
	// best run is reported, the usual defence against a noisy machine.
	repeat int

	// wall: end-to-end exports against the bare-fetch floor, at each of
	// these page latencies and sizes.
	wall []wallRun

	// rss: peak memory of an exporter child at three organization sizes,
	// developers and apps; mid and large are set against small.
	rssSmall, rssMid, rssLarge int
	// rssLargeBudget is the time the large runs of one resource may take
	// together; formats that would pass it are skipped (json and parquet
	// run first).
	rssLargeBudget time.Duration
	// rssParallel > 1 runs the children of one size at once (--quick).
	rssParallel int

	// encode: in-process encoder throughput.
	encodeRecords int
	encodeMinTime time.Duration

	// pipeline: an apps export with no latency.
	pipelineApps int

	// polling: GetOperation under concurrent load.
	pollRequests    int
	pollConcurrency int
	pollMaxTime     time.Duration

	// gcs: a small export to fake-gcs-server.
	gcsApps int
}

// wallRun is one emulator of the wall section: its page latency and the
// size of each resource.
type wallRun struct {
	latency                    time.Duration
	developers, apps, products int
}

func fullConfig() config {
	return config{
		budget: 15 * time.Minute,
		repeat: 2,
		wall: []wallRun{
			// Realistic Apigee latency; smaller sizes keep the run short,
			// the ratio does not depend on the page count.
			{latency: 200 * time.Millisecond, developers: 20_000, apps: 20_000, products: 2_000},
			{latency: 20 * time.Millisecond, developers: 100_000, apps: 100_000, products: 5_000},
		},
		rssSmall:        10_000,
		rssMid:          100_000,
		rssLarge:        1_000_000,
		rssLargeBudget:  150 * time.Second,
		encodeRecords:   20_000,
		encodeMinTime:   time.Second,
		pipelineApps:    100_000,
		pollRequests:    60_000, // a round takes half a second or more: shorter ones jittered with the load
		pollConcurrency: 32,
		pollMaxTime:     40 * time.Second,
		gcsApps:         10_000,
	}
}

func quickConfig() config {
	return config{
		quick:  true,
		budget: 2 * time.Minute,
		repeat: 1,
		wall: []wallRun{
			{latency: 20 * time.Millisecond, developers: 500, apps: 500, products: 100},
			{latency: 2 * time.Millisecond, developers: 1_000, apps: 1_000, products: 200},
		},
		rssSmall:        300,
		rssMid:          600,
		rssLarge:        1_000,
		rssLargeBudget:  30 * time.Second,
		rssParallel:     4,
		encodeRecords:   300,
		encodeMinTime:   20 * time.Millisecond,
		pipelineApps:    1_000,
		pollRequests:    300,
		pollConcurrency: 4,
		pollMaxTime:     5 * time.Second,
		gcsApps:         200,
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("pubexport-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "tiny sizes: a smoke test of every section in seconds")
	only := fs.String("only", "", "run one section: "+strings.Join(sections, ", "))
	jsonPath := fs.String("json", "bench.json", "write the figures as JSON to this file")
	budget := fs.Duration("budget", 0, "bound on the whole run (default 15m, 2m with --quick)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pubexport-bench [--quick] [--only SECTION] [--json FILE]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, errHelp
		}
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q: all options are flags", fs.Args())
	}
	cfg := fullConfig()
	if *quick {
		cfg = quickConfig()
	}
	if *only != "" && !slices.Contains(sections, *only) {
		return config{}, fmt.Errorf("invalid --only %q: want one of %s", *only, strings.Join(sections, ", "))
	}
	cfg.only = *only
	cfg.jsonPath = *jsonPath
	if *budget > 0 {
		cfg.budget = *budget
	}
	return cfg, nil
}

// wants reports whether the run includes section s.
func (c config) wants(s string) bool { return c.only == "" || c.only == s }
