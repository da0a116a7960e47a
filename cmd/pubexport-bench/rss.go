package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"pubexport/cmd/pubexport-bench/internal/report"
	"pubexport/export/apigee"
	"pubexport/formats"
)

// rssFormats is the order of the large runs: when time is short the ones
// at the end are skipped, so JSON (the default) and Parquet (the one that
// buffers row groups) come first.
var rssFormats = []formats.Format{formats.JSON, formats.Parquet, formats.NDJSON, formats.CSV}

// rssResources are the resources the rss section exports at each size:
// developers (key-paged) and apps (token-paged, in two status passes), the
// two listings whose state could grow with the organization.
var rssResources = []apigee.Resource{apigee.Developers, apigee.Apps}

// benchRSS measures the exporter's peak memory at three organization sizes.
// Each export runs in a child process, so the OS's peak RSS for it is the
// exporter's alone; the emulator is another process. Memory that stays flat
// as the organization grows is the property users need, so every size is
// set against the smallest one.
//
// The figure is the child's own high-water mark (VmHWM, which the child
// reads from the OS as it exits). getrusage's ru_maxrss for the child is
// kept beside it, but on Linux it folds in the harness's RSS at the fork
// (see childRun.MaxRSSKiB), so it cannot show a child smaller than the
// harness.
func benchRSS(ctx context.Context, h *harness) error {
	h.rep.Note("rss: value = the exporter child's own peak RSS (VmHWM at exit); ru_maxrss of the child is in the note and the JSON, but Linux folds the parent's RSS at fork into it.")
	small, err := h.rssRuns(ctx, h.cfg.rssSmall, 0, nil, 0)
	if err != nil {
		return err
	}
	if _, err := h.rssRuns(ctx, h.cfg.rssMid, 0, small, h.cfg.rssSmall); err != nil {
		return err
	}
	_, err = h.rssRuns(ctx, h.cfg.rssLarge, h.cfg.rssLargeBudget, small, h.cfg.rssSmall)
	return err
}

// rssKey names one export of the rss section at a given size.
type rssKey struct {
	r apigee.Resource
	f formats.Format
}

// rssRuns exports n developers and n apps in each format, each resource
// within budget when it is positive, and reports each child's peak RSS
// against ref's (the runs at refSize records).
func (h *harness) rssRuns(ctx context.Context, n int, budget time.Duration, ref map[rssKey]childRun, refSize int) (map[rssKey]childRun, error) {
	runs := map[rssKey]childRun{}
	add := func(k rssKey, res childRun, err error) {
		name := fmt.Sprintf("%s %s, %s", k.r, count(n), k.f)
		if err != nil {
			h.rep.Skip("rss", name, skipReason(ctx, err))
			return
		}
		runs[k] = res
		row := report.Row{
			Section: "rss", Case: name,
			Value: float64(res.Peak()), Unit: report.KiB,
			Note: fmt.Sprintf("%s records in %.1f s, CPU %.1f s, output %.0f MB; peak live heap %.1f MiB; ru_maxrss %.1f MiB",
				report.Count.Format(float64(res.Records)), res.Wall.Seconds(), res.CPU.Seconds(), float64(res.Bytes)/1e6,
				float64(res.PeakLiveKiB)/1024, float64(res.MaxRSSKiB)/1024),
			Extra: map[string]float64{"ruMaxrssKiB": float64(res.MaxRSSKiB), "vmHWMKiB": float64(res.PeakKiB),
				"peakLiveHeapKiB": float64(res.PeakLiveKiB), "seconds": res.Wall.Seconds()},
		}
		if s, ok := ref[k]; ok {
			row.Reference = float64(s.Peak())
			row.ReferenceName = "at " + count(refSize)
		}
		if k.f == rssFormats[0] && h.cfg.rssParallel <= 1 {
			row.Note += "; the first run also warmed the emulator"
		}
		h.rep.Add(row)
	}

	if h.cfg.rssParallel > 1 {
		// A smoke test: peak RSS is per process, so the children may
		// overlap; only their times suffer, and nobody reads those here.
		emu, err := h.startEmulator(ctx, n, n, 0, 0)
		if err != nil {
			return nil, err
		}
		defer emu.Close()
		h.logf("rss: %s records, all resources and formats at once (child processes)", count(n))
		var keys []rssKey
		for _, r := range rssResources {
			for _, f := range rssFormats {
				keys = append(keys, rssKey{r, f})
			}
		}
		res := make([]childRun, len(keys))
		errs := make([]error, len(keys))
		var wg sync.WaitGroup
		sem := make(chan struct{}, h.cfg.rssParallel)
		for i, k := range keys {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				res[i], errs[i] = h.rssChild(ctx, emu.URL, k)
			})
		}
		wg.Wait()
		for i, k := range keys {
			add(k, res[i], errs[i])
		}
		return runs, nil
	}

	// One emulator per resource: generating a million developers and a
	// million apps at once takes minutes on a busy machine.
	for _, r := range rssResources {
		devs, apps := n, 0
		if r == apigee.Apps {
			devs, apps = max(n/10, 1), n // apps belong to developers
		}
		emu, err := h.startEmulator(ctx, devs, apps, 0, 0)
		if err != nil {
			return runs, err
		}
		h.rssSequential(ctx, emu.URL, n, r, budget, add)
		emu.Close()
	}
	return runs, nil
}

// rssSequential exports resource r in each format, one child at a time,
// skipping the formats that would pass budget.
func (h *harness) rssSequential(ctx context.Context, url string, n int, r apigee.Resource, budget time.Duration, add func(rssKey, childRun, error)) {
	var spent, longest time.Duration
	for _, f := range rssFormats {
		k := rssKey{r, f}
		name := fmt.Sprintf("%s %s, %s", r, count(n), f)
		if budget > 0 && spent+longest > budget {
			h.rep.Skip("rss", name, fmt.Sprintf("the %s runs would pass their %s budget (each took up to %.0f s)", count(n), budget, longest.Seconds()))
			continue
		}
		if left := budgetLeft(ctx); longest > 0 && left < 2*longest {
			h.rep.Skip("rss", name, fmt.Sprintf("only %.0f s of the run's budget left", left.Seconds()))
			continue
		}
		h.logf("rss: %s (child process)", name)
		t0 := time.Now()
		res, err := h.rssChild(ctx, url, k)
		took := time.Since(t0)
		spent += took
		longest = max(longest, took)
		add(k, res, err)
	}
}

// rssChild exports the emulator's k.r in format k.f from a child process,
// into a folder removed afterwards.
func (h *harness) rssChild(ctx context.Context, url string, k rssKey) (childRun, error) {
	dir, err := h.dir("rss-")
	if err != nil {
		return childRun{}, err
	}
	defer os.RemoveAll(dir)
	return runChild(ctx, childSpec{URL: url, Resource: string(k.r), Format: string(k.f), Dest: "file://" + dir})
}
