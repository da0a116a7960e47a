package main

import (
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// heapProfileEnv, when set in a child's environment, names a file the child
// writes a heap profile to each time its live heap reaches a new high (by
// at least 1 MiB), so the last one written shows what held the memory at
// the peak. For finding what grows with an organization, not for figures.
const heapProfileEnv = "PUBEXPORT_BENCH_HEAPPROFILE"

// heapWatch samples the live heap (what the last collection found
// reachable) while an export runs. Peak RSS depends on when the collector
// runs, which the machine's load shifts; the peak live heap is what the
// export holds, whatever the load.
type heapWatch struct {
	stop    chan struct{}
	done    chan struct{}
	peak    uint64
	profile string
	trace   *memTracer
}

const liveHeapMetric = "/gc/heap/live:bytes"

func watchHeap() *heapWatch {
	w := &heapWatch{stop: make(chan struct{}), done: make(chan struct{}), profile: os.Getenv(heapProfileEnv), trace: newMemTracer()}
	if w.profile != "" {
		// The default rate samples one allocation per 512 KiB, too coarse
		// for a heap of a few tens of MiB.
		runtime.MemProfileRate = 4096
	}
	go w.run()
	return w
}

func (w *heapWatch) run() {
	defer close(w.done)
	s := []metrics.Sample{{Name: liveHeapMetric}}
	var profiled uint64
	// Collections come every few tens of milliseconds in a large export;
	// sampling faster than that sees nearly every one.
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 {
			live := s[0].Value.Uint64()
			w.peak = max(w.peak, live)
			if w.profile != "" && live > profiled+1<<20 {
				profiled = live
				w.writeProfile()
			}
		}
		w.trace.check()
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
	}
}

func (w *heapWatch) writeProfile() {
	f, err := os.Create(w.profile)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}

// Stop ends the sampling and returns the peak live heap in KiB.
func (w *heapWatch) Stop() int64 {
	close(w.stop)
	<-w.done
	return int64(w.peak >> 10)
}
