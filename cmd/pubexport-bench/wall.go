package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"pubexport/cmd/pubexport-bench/internal/report"
	"pubexport/export/apigee"
	"pubexport/formats"
)

// benchWall times whole exports against their paging floor: pages x page
// latency is the least any exporter that reads pages one after another can
// take, so wall/floor near 1 means encoding and writing hide behind the
// waiting for pages.
func benchWall(ctx context.Context, h *harness) error {
	cfg := h.cfg
	emu, err := h.startEmulator(ctx, cfg.wallDevelopers, cfg.wallApps, cfg.wallProducts, cfg.wallLatency)
	if err != nil {
		return err
	}
	defer emu.Close()

	cases := []struct {
		r apigee.Resource
		n int
	}{
		{apigee.Developers, cfg.wallDevelopers},
		{apigee.Apps, cfg.wallApps},
		{apigee.APIProducts, cfg.wallProducts},
	}
	// The emulator renders a record's JSON the first time it serves it; a
	// warm-up listing keeps that one-off cost (the real API's, not ours)
	// out of the timed runs.
	// The three listings run at once: each mostly waits out page latency.
	h.logf("wall: warming the emulator up with a listing of each resource")
	var warm sync.WaitGroup
	warmErrs := make([]error, len(cases))
	for i, c := range cases {
		warm.Go(func() {
			if _, err := listAll(ctx, emu.URL, c.r, nil); err != nil {
				warmErrs[i] = fmt.Errorf("warm-up listing of %s: %w", c.r, err)
			}
		})
	}
	warm.Wait()
	if err := errors.Join(warmErrs...); err != nil {
		return err
	}

	lat := cfg.wallLatency
	alone := map[apigee.Resource]exportResult{}
	var slowest apigee.Resource
	for _, c := range cases {
		name := fmt.Sprintf("%s %s, json, %s/page", c.r, count(c.n), lat)
		h.logf("wall: %s", name)
		res, err := h.best(func() (exportResult, error) { return h.exportToDir(ctx, emu.URL, c.r, formats.JSON) })
		if err != nil {
			h.rep.Skip("wall", name, skipReason(ctx, err))
			continue
		}
		alone[c.r] = res
		if slowest == "" || res.Wall > alone[slowest].Wall {
			slowest = c.r
		}
		floor := time.Duration(res.Pages) * lat
		h.rep.Add(report.Row{
			Section: "wall", Case: name,
			Value: res.Wall.Seconds(), Unit: report.Second,
			Reference: floor.Seconds(), ReferenceName: fmt.Sprintf("floor (%d pages x %s)", res.Pages, lat),
			Note:  fmt.Sprintf("%s records, %s rec/s", report.Count.Format(float64(res.Records)), report.Count.Format(float64(res.Records)/res.Wall.Seconds())),
			Extra: map[string]float64{"records": float64(res.Records), "pages": float64(res.Pages), "latencySeconds": lat.Seconds()},
		})
	}

	name := fmt.Sprintf("all three at once, json, %s/page", lat)
	if len(alone) != len(cases) {
		h.rep.Skip("wall", name, "a single-resource run failed")
		return nil
	}
	h.logf("wall: %s", name)
	all, err := h.best(func() (exportResult, error) {
		t0 := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, len(cases))
		for i, c := range cases {
			wg.Go(func() {
				_, errs[i] = h.exportToDir(ctx, emu.URL, c.r, formats.JSON)
			})
		}
		wg.Wait()
		return exportResult{Wall: time.Since(t0)}, errors.Join(errs...)
	})
	if err != nil {
		h.rep.Skip("wall", name, skipReason(ctx, err))
		return nil
	}
	wall := all.Wall
	var sum time.Duration
	for _, r := range alone {
		sum += r.Wall
	}
	h.rep.Add(report.Row{
		Section: "wall", Case: name,
		Value: wall.Seconds(), Unit: report.Second,
		Reference: alone[slowest].Wall.Seconds(), ReferenceName: fmt.Sprintf("slowest alone (%s)", slowest),
		Note: fmt.Sprintf("one after another: %.2f s", sum.Seconds()),
	})
	return nil
}

// best runs f h.cfg.repeat times and returns the fastest run.
func (h *harness) best(f func() (exportResult, error)) (exportResult, error) {
	var best exportResult
	for i := range max(h.cfg.repeat, 1) {
		r, err := f()
		if err != nil {
			return exportResult{}, err
		}
		if i == 0 || r.Wall < best.Wall {
			best = r
		}
	}
	return best, nil
}

// exportToDir runs one export to a fresh folder and removes the folder
// afterwards: a million-record export is too big to keep around.
func (h *harness) exportToDir(ctx context.Context, url string, r apigee.Resource, f formats.Format) (exportResult, error) {
	dir, err := h.dir(string(r) + "-" + string(f) + "-")
	if err != nil {
		return exportResult{}, err
	}
	defer os.RemoveAll(dir)
	return runExport(ctx, exportJob{apigeeURL: url, resource: r, format: f, dest: "file://" + dir})
}

// count prints a record count the way the issue speaks of sizes: 100k, 1M.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	default:
		return fmt.Sprint(n)
	}
}
