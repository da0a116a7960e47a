package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"pubexport/cmd/pubexport-bench/internal/report"
)

// harness is the state shared by the sections of one run.
type harness struct {
	cfg     config
	rep     *report.Report
	log     io.Writer
	tmp     string
	started time.Time

	buildOnce sync.Once
	emuBin    string
	buildErr  error
}

// section is one part of the harness. It adds its rows to h.rep; an error
// means it could not measure at all.
type section func(ctx context.Context, h *harness) error

func sectionFunc(name string) section {
	switch name {
	case "wall":
		return benchWall
	case "rss":
		return benchRSS
	case "encode":
		return benchEncode
	case "pipeline":
		return benchPipeline
	case "polling":
		return benchPolling
	case "gcs":
		return benchGCS
	}
	panic("unknown section " + name)
}

// bench runs the selected sections, prints the table to stdout and writes
// the JSON. Sections that fail are reported in the table and make the run
// fail after everything else was measured.
func bench(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	tmp, err := os.MkdirTemp("", "pubexport-bench-")
	if err != nil {
		return fmt.Errorf("creating a work folder: %w", err)
	}
	defer os.RemoveAll(tmp)

	h := &harness{cfg: cfg, rep: report.New(time.Now().UTC()), log: stderr, tmp: tmp, started: time.Now()}
	h.rep.Set("go", runtime.Version())
	h.rep.Set("cpus", fmt.Sprint(runtime.NumCPU()))
	h.rep.Set("os", runtime.GOOS+"/"+runtime.GOARCH)
	h.rep.Set("mode", map[bool]string{true: "quick", false: "full"}[cfg.quick])
	h.rep.Set("budget", cfg.budget.String())
	h.rep.Set("loadavgStart", loadAverage())

	if cfg.repeat > 1 && (cfg.wants("wall") || cfg.wants("pipeline")) {
		h.rep.Note("wall, pipeline: each timed export ran %d times; the table shows the fastest.", cfg.repeat)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.budget)
	defer cancel()

	var failed []string
	for _, name := range sections {
		if !cfg.wants(name) {
			continue
		}
		h.rep.Section(name)
		if ctx.Err() != nil {
			h.rep.Skip(name, "(all cases)", "time budget spent before this section started")
			continue
		}
		h.logf("section %s", name)
		t0 := time.Now()
		if err := sectionFunc(name)(ctx, h); err != nil {
			h.logf("section %s failed: %v", name, err)
			h.rep.Skip(name, "(section failed)", err.Error())
			failed = append(failed, name)
		}
		h.logf("section %s done in %s", name, time.Since(t0).Round(time.Millisecond))
	}
	h.rep.Elapsed = report.Seconds(time.Since(h.started))
	h.rep.Set("loadavgEnd", loadAverage())
	if la := loadAverage(); la != "" {
		h.rep.Note("machine load (1-minute average) at start %s, at end %s: other work on the cores skews every figure.", h.rep.Settings["loadavgStart"], la)
	}
	h.rep.Note("ratio = value / reference. For times and memory lower is better; for rates higher is better.")

	fmt.Fprintf(stdout, "pubexport-bench (%s, %s, %d CPUs, %s) in %s\n\n",
		h.rep.Settings["mode"], runtime.Version(), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH,
		time.Since(h.started).Round(100*time.Millisecond))
	if err := h.rep.WriteTable(stdout); err != nil {
		return fmt.Errorf("printing the table: %w", err)
	}
	if cfg.jsonPath != "" {
		if err := writeJSON(cfg.jsonPath, h.rep); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nJSON: %s\n", cfg.jsonPath)
	}
	if len(failed) > 0 {
		return fmt.Errorf("sections failed: %v (see the table)", failed)
	}
	return nil
}

func writeJSON(path string, rep *report.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the JSON figures: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("writing the JSON figures to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the JSON figures to %s: %w", path, err)
	}
	return nil
}

// logf reports progress on stderr, so that a long run shows it is alive
// while stdout keeps only the table.
func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "bench %6.1fs: %s\n", time.Since(h.started).Seconds(), fmt.Sprintf(format, args...))
}

// dir makes a fresh folder under the run's work folder.
func (h *harness) dir(pattern string) (string, error) {
	d, err := os.MkdirTemp(h.tmp, pattern)
	if err != nil {
		return "", fmt.Errorf("creating a work folder: %w", err)
	}
	return d, nil
}

// budgetLeft is the time until the run's deadline.
func budgetLeft(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return time.Duration(1<<63 - 1)
}

// skipReason says why a case was not measured after err.
func skipReason(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return "time budget spent (" + err.Error() + ")"
	}
	return "error: " + err.Error()
}
