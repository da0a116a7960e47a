package main

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"sync"
	"time"

	"pubexport/cmd/pubexport-bench/internal/report"
	"pubexport/export/apigee"
	"pubexport/formats"
)

// benchWall times whole exports against their bare-fetch floor: a client
// that GETs the same pages one after another and does nothing with them,
// measured in the same run against the same emulator (see floor.go). That
// is the least any exporter that reads pages one after another can take, so
// wall/floor near 1 means decoding, encoding and writing hide behind the
// waiting for pages. It runs at each latency of h.cfg.wall.
func benchWall(ctx context.Context, h *harness) error {
	for _, w := range h.cfg.wall {
		if err := h.wallAt(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// wallCase is one resource of the wall section and its size.
type wallCase struct {
	r apigee.Resource
	n int
}

func (h *harness) wallAt(ctx context.Context, w wallRun) error {
	emu, err := h.startEmulator(ctx, w.developers, w.apps, w.products, w.latency)
	if err != nil {
		return err
	}
	defer emu.Close()

	cases := []wallCase{
		{apigee.Developers, w.developers},
		{apigee.Apps, w.apps},
		{apigee.APIProducts, w.products},
	}
	// The emulator renders a record's JSON the first time it serves it; a
	// warm-up listing keeps that one-off cost (the real API's, not ours)
	// out of the timed runs. It also records the URLs of the pages, which
	// the bare fetcher then asks for: the same requests as the exporter's.
	// The three listings run at once: each mostly waits out page latency.
	h.logf("wall: warming the emulator up with a listing of each resource (%s/page)", w.latency)
	var warm sync.WaitGroup
	warmErrs := make([]error, len(cases))
	urls := make([][]string, len(cases))
	for i, c := range cases {
		warm.Go(func() {
			rec := &urlRecorder{suffix: "/" + string(c.r)}
			if _, err := listAll(ctx, emu.URL, c.r, rec); err != nil {
				warmErrs[i] = fmt.Errorf("warm-up listing of %s: %w", c.r, err)
			}
			urls[i] = rec.urls
		})
	}
	warm.Wait()
	if err := errors.Join(warmErrs...); err != nil {
		return err
	}

	lat := w.latency
	addRow := func(name string, wall, fl time.Duration, pages int, note string, extra map[string]float64) {
		extra["floorSeconds"] = fl.Seconds()
		extra["latencySeconds"] = lat.Seconds()
		h.rep.Add(report.Row{
			Section: "wall", Case: name,
			Value: wall.Seconds(), Unit: report.Second,
			Reference: fl.Seconds(), ReferenceName: fmt.Sprintf("bare fetch (%d requests)", pages),
			Note:  fmt.Sprintf("%s; pages x latency %.2f s", note, (time.Duration(pages) * lat).Seconds()),
			Extra: extra,
		})
	}
	alone := map[apigee.Resource]exportResult{}
	for i, c := range cases {
		name := fmt.Sprintf("%s %s, json, %s/page", c.r, count(c.n), lat)
		h.logf("wall: %s", name)
		fl, err := floor(ctx, h.cfg.repeat, urls[i])
		if err != nil {
			h.rep.Skip("wall", name, skipReason(ctx, fmt.Errorf("bare fetch: %w", err)))
			continue
		}
		res, err := h.best(func() (exportResult, error) {
			return h.cpuTimed(emu, func() (exportResult, error) { return h.exportToDir(ctx, emu.URL, c.r, formats.JSON) })
		})
		if err != nil {
			h.rep.Skip("wall", name, skipReason(ctx, err))
			continue
		}
		alone[c.r] = res
		addRow(name, res.Wall, fl, len(urls[i]),
			fmt.Sprintf("%s records, %s rec/s; %s", report.Count.Format(float64(res.Records)), report.Count.Format(float64(res.Records)/res.Wall.Seconds()), cpuNote(res, res.Records)),
			map[string]float64{"records": float64(res.Records), "pages": float64(res.Pages),
				"cpuSeconds": res.CPU.Seconds(), "emulatorCPUSeconds": res.EmulatorCPU.Seconds()})
	}

	for i, c := range cases {
		if c.r == apigee.Apps && alone[c.r].Wall > 0 {
			h.appsPasses(ctx, emu, c, urls[i], alone[c.r], lat)
		}
	}

	name := fmt.Sprintf("all three at once, json, %s/page", lat)
	if len(alone) != len(cases) {
		h.rep.Skip("wall", name, "a single-resource run failed")
		return nil
	}
	h.logf("wall: %s", name)
	fl, err := floor(ctx, h.cfg.repeat, urls...)
	if err != nil {
		h.rep.Skip("wall", name, skipReason(ctx, fmt.Errorf("bare fetch: %w", err)))
		return nil
	}
	all, err := h.best(func() (exportResult, error) {
		return h.cpuTimed(emu, func() (exportResult, error) { return h.allAtOnce(ctx, emu.URL, cases) })
	})
	if err != nil {
		h.rep.Skip("wall", name, skipReason(ctx, err))
		return nil
	}
	var sum time.Duration
	var records int64
	pages := 0
	for i, c := range cases {
		sum += alone[c.r].Wall
		records += alone[c.r].Records
		pages = max(pages, len(urls[i]))
	}
	addRow(name, all.Wall, fl, pages,
		fmt.Sprintf("three bare fetchers at once; exports one after another: %.2f s; %s", sum.Seconds(), cpuNote(all, records)),
		map[string]float64{"cpuSeconds": all.CPU.Seconds(), "emulatorCPUSeconds": all.EmulatorCPU.Seconds()})
	return nil
}

// appsPasses reports what reading the apps passes at once gains: the
// default export (alone, four passes at once) beside the same export with
// one request in flight, and beside the floor of the client before
// keyStatus was sent, whose two status passes (keyStatus left to its
// default, approved) are the "today" the parallel passes were measured
// against. Each pass pages by its own token, so the wall time of the
// passes at once is bounded by the largest pass, unless its tokens are
// plain indices (the emulator's default, the literal reading of "The
// starting index record"): then that pass's pages are asked for ahead by
// index too, up to the cap on requests in flight (see
// export/apigee/indexahead.go). The rows say how large that pass is.
func (h *harness) appsPasses(ctx context.Context, emu *emulatorProc, c wallCase, urls []string, alone exportResult, lat time.Duration) {
	name := fmt.Sprintf("%s %s, json, %s/page, passes at once vs one at a time", c.r, count(c.n), lat)
	h.logf("wall: %s", name)
	seq, err := h.best(func() (exportResult, error) {
		return h.cpuTimed(emu, func() (exportResult, error) {
			dir, err := h.dir("apps-sequential-")
			if err != nil {
				return exportResult{}, err
			}
			defer os.RemoveAll(dir)
			return runExport(ctx, exportJob{apigeeURL: emu.URL, resource: c.r, format: formats.JSON, dest: "file://" + dir, maxParallel: 1})
		})
	})
	if err != nil {
		h.rep.Skip("wall", name, skipReason(ctx, err))
		return
	}
	passes := map[string]int{}
	var old []string
	largest := 0
	for _, u := range urls {
		q, err := neturl.Parse(u)
		if err != nil {
			continue
		}
		k := q.Query().Get("status") + "/" + q.Query().Get("keyStatus")
		passes[k]++
		largest = max(largest, passes[k])
		if q.Query().Get("keyStatus") == "approved" {
			old = append(old, u)
		}
	}
	h.rep.Add(report.Row{
		Section: "wall", Case: name,
		Value: alone.Wall.Seconds(), Unit: report.Second,
		Reference: seq.Wall.Seconds(), ReferenceName: "--max-parallel-requests 1",
		Note: fmt.Sprintf("%d passes, %d requests, the largest pass %d (pages x latency %.2f s)",
			len(passes), len(urls), largest, (time.Duration(largest) * lat).Seconds()),
		Extra: map[string]float64{"largestPassRequests": float64(largest), "requests": float64(len(urls))},
	})
	name = fmt.Sprintf("%s %s, json, %s/page, vs the two-pass client before keyStatus", c.r, count(c.n), lat)
	fl, err := floor(ctx, h.cfg.repeat, old)
	if err != nil {
		h.rep.Skip("wall", name, skipReason(ctx, fmt.Errorf("bare fetch: %w", err)))
		return
	}
	h.rep.Add(report.Row{
		Section: "wall", Case: name,
		Value: alone.Wall.Seconds(), Unit: report.Second,
		Reference: fl.Seconds(), ReferenceName: fmt.Sprintf("bare fetch of its %d requests", len(old)),
		Note: "the status=approved and status=revoked passes one after another, as listed before keyStatus " +
			"(which hid apps whose keys are all revoked); issue #15 aims at 1.8x faster, a ratio of 0.56",
		Extra: map[string]float64{"floorSeconds": fl.Seconds(), "latencySeconds": lat.Seconds()},
	})
}

// allAtOnce runs an export of each case at the same time, as three
// `pubexport run` would, and times them together.
func (h *harness) allAtOnce(ctx context.Context, url string, cases []wallCase) (exportResult, error) {
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(cases))
	for i, c := range cases {
		wg.Go(func() {
			_, errs[i] = h.exportToDir(ctx, url, c.r, formats.JSON)
		})
	}
	wg.Wait()
	return exportResult{Wall: time.Since(t0)}, errors.Join(errs...)
}

// cpuTimed runs f and adds to its result the CPU time this process (the
// exporter: nothing else of the harness runs meanwhile) and the emulator
// spent. CPU per record does not depend on the machine's load the way wall
// time does, and on two cores the exporter's CPU is taken from the
// emulator that serves its pages.
func (h *harness) cpuTimed(emu *emulatorProc, f func() (exportResult, error)) (exportResult, error) {
	cpu0, emu0 := selfCPU(), emu.CPU()
	r, err := f()
	r.CPU, r.EmulatorCPU = selfCPU()-cpu0, emu.CPU()-emu0
	return r, err
}

// cpuNote says how much CPU an export took per record, the emulator's
// beside it.
func cpuNote(r exportResult, records int64) string {
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(max(records, 1)) }
	return fmt.Sprintf("CPU %.1f µs/record (emulator %.1f µs/record)", per(r.CPU), per(r.EmulatorCPU))
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
