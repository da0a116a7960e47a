package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"pubexport/cmd/pubexport-bench/internal/report"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/formats"
)

// apigeeQuotaRecords is the most records a second Apigee's management quota
// can deliver: 6000 calls a minute at 1000 records a page.
const apigeeQuotaRecords = 100_000

// benchPipeline measures the exporter's CPU-bound throughput: an apps
// export with no injected latency, through decode, redaction, encoding,
// hashing and the file write, against what Apigee's quota could feed it
// and against a naive protojson pipeline over the same pages.
func benchPipeline(ctx context.Context, h *harness) error {
	n := h.cfg.pipelineApps
	emu, err := h.startEmulator(ctx, max(n/10, 1), n, 1, 0)
	if err != nil {
		return err
	}
	defer emu.Close()

	// The warm-up listing renders every app in the emulator once and
	// records the page bodies for the naive baseline.
	h.logf("pipeline: warm-up listing of %d apps", n)
	rec := &recorder{suffix: "/apps"}
	if _, err := listAll(ctx, emu.URL, apigee.Apps, rec); err != nil {
		return fmt.Errorf("warm-up listing of apps: %w", err)
	}

	name := fmt.Sprintf("apps %s, json -> file://, no latency", count(n))
	h.logf("pipeline: %s", name)
	var cpu, emuCPU, fastest time.Duration
	res, err := h.best(func() (exportResult, error) {
		cpu0, emuCPU0 := selfCPU(), emu.CPU()
		r, err := h.exportToDir(ctx, emu.URL, apigee.Apps, formats.JSON)
		if fastest == 0 || r.Wall < fastest {
			// The CPU figures belong to the run the table shows.
			fastest, cpu, emuCPU = r.Wall, selfCPU()-cpu0, emu.CPU()-emuCPU0
		}
		return r, err
	})
	if err != nil {
		h.rep.Skip("pipeline", name, skipReason(ctx, err))
		return nil
	}
	rate := float64(res.Records) / res.Wall.Seconds()
	h.rep.Add(report.Row{
		Section: "pipeline", Case: name + " vs quota",
		Value: rate, Unit: report.RecordsPerS,
		Reference: apigeeQuotaRecords, ReferenceName: "Apigee quota max",
		Note: fmt.Sprintf("%s records in %.2f s; CPU: exporter %.2f s (%.2f cores), emulator %.2f s, on %d cores",
			report.Count.Format(float64(res.Records)), res.Wall.Seconds(), cpu.Seconds(), cpu.Seconds()/res.Wall.Seconds(), emuCPU.Seconds(), runtime.NumCPU()),
		Extra: map[string]float64{"seconds": res.Wall.Seconds(), "exporterCPUSeconds": cpu.Seconds(), "emulatorCPUSeconds": emuCPU.Seconds()},
	})
	// On a small machine the emulator competes for the same cores, so the
	// exporter's own cost is records per CPU-second of this process.
	if cpu > 0 {
		h.rep.Add(report.Row{
			Section: "pipeline", Case: name + ", per exporter CPU-second",
			Value: float64(res.Records) / cpu.Seconds(), Unit: report.RecordsPerS,
			Reference: apigeeQuotaRecords, ReferenceName: "Apigee quota max",
			Note: "records / CPU time of the exporter process (user + system): its cost without the emulator",
		})
	}

	h.logf("pipeline: naive protojson over %d recorded pages", len(rec.pages))
	naive, err := h.naivePipeline(rec.pages)
	if err != nil {
		h.rep.Skip("pipeline", name+" vs naive", "error: "+err.Error())
		return nil
	}
	h.rep.Add(report.Row{
		Section: "pipeline", Case: name + " vs naive",
		Value: rate, Unit: report.RecordsPerS,
		Reference: naive.recPerS(), ReferenceName: "naive",
		Note: fmt.Sprintf("naive = protojson.Unmarshal + protojson.Marshal, 1 goroutine, same %d pages from memory (no HTTP, no hashing) to a file", len(rec.pages)),
	})
	return nil
}

// naivePipeline is what a straightforward exporter does with each page:
// protojson.Unmarshal the list response, protojson.Marshal each app into a
// JSON array in a file. The pages are already in memory, so it pays no HTTP
// and no emulator: a generous baseline.
func (h *harness) naivePipeline(pages [][]byte) (throughput, error) {
	dir, err := h.dir("naive-")
	if err != nil {
		return throughput{}, err
	}
	defer os.RemoveAll(dir)
	f, err := os.Create(filepath.Join(dir, "apps.json"))
	if err != nil {
		return throughput{}, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 256<<10)
	un := protojson.UnmarshalOptions{DiscardUnknown: true}

	var t throughput
	t0 := time.Now()
	w.WriteByte('[')
	for _, body := range pages {
		var page apigeepb.ListAppsResponse
		if err := un.Unmarshal(body, &page); err != nil {
			return throughput{}, fmt.Errorf("protojson.Unmarshal of a page: %w", err)
		}
		for _, a := range page.GetApp() {
			b, err := protojson.Marshal(a)
			if err != nil {
				return throughput{}, err
			}
			if t.records > 0 {
				w.WriteByte(',')
			}
			w.Write(b)
			t.records++
			t.bytes += int64(len(b) + 1)
		}
	}
	w.WriteByte(']')
	if err := w.Flush(); err != nil {
		return throughput{}, err
	}
	t.elapsed = time.Since(t0)
	return t, nil
}

// selfCPU is the user + system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
