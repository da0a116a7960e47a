package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// memTraceEnv, when set in a child's environment, names a file the child
// writes, each time its anonymous RSS (RssAnon: what the process allocated,
// not the pages of its own program file, whose resident share varies by
// 2-6 MiB with the build and the run) reaches a new high by at least
// 256 KiB, where that memory is: the Go runtime's memory classes, its heap goal and
// collections so far, and the resident bytes of each kind of mapping
// (/proc/self/smaps). The last one written explains the peak. For finding
// what grows with an organization, not for figures.
const memTraceEnv = "PUBEXPORT_BENCH_MEMTRACE"

// memTraceMetrics are the runtime figures a trace gives.
var memTraceMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/os-stacks:bytes",
	"/memory/classes/metadata/mspan/inuse:bytes",
	"/memory/classes/metadata/mspan/free:bytes",
	"/memory/classes/metadata/mcache/inuse:bytes",
	"/memory/classes/metadata/other:bytes",
	"/memory/classes/profiling/buckets:bytes",
	"/memory/classes/other:bytes",
	"/memory/classes/total:bytes",
	"/gc/heap/live:bytes",
	"/gc/heap/goal:bytes",
	"/gc/gomemlimit:bytes",
	"/gc/cycles/total:gc-cycles",
	"/gc/cycles/forced:gc-cycles",
	"/sched/goroutines:goroutines",
}

// memTracer writes memory traces at new RSS highs.
type memTracer struct {
	path    string
	samples []metrics.Sample
	peak    int64 // RssAnon, KiB
	file    int64 // the largest RssFile, KiB
	start   time.Time
}

func newMemTracer() *memTracer {
	p := os.Getenv(memTraceEnv)
	if p == "" {
		return nil
	}
	t := &memTracer{path: p, start: time.Now()}
	for _, n := range memTraceMetrics {
		t.samples = append(t.samples, metrics.Sample{Name: n})
	}
	return t
}

// check writes a trace when RssAnon is 256 KiB past the last one traced.
func (t *memTracer) check() {
	if t == nil {
		return
	}
	st, _ := os.ReadFile("/proc/self/status")
	anon, file := statusKiB(st, "RssAnon:"), statusKiB(st, "RssFile:")
	t.file = max(t.file, file)
	if anon < t.peak+256 {
		return
	}
	t.peak = anon
	var b strings.Builder
	fmt.Fprintf(&b, "RssAnon %.1f MiB, RssFile %.1f MiB (largest so far %.1f), VmRSS %.1f MiB, VmHWM %.1f MiB, at %.2f s\n",
		float64(anon)/1024, float64(file)/1024, float64(t.file)/1024,
		float64(statusKiB(st, "VmRSS:"))/1024, float64(statusKiB(st, "VmHWM:"))/1024, time.Since(t.start).Seconds())
	metrics.Read(t.samples)
	for _, s := range t.samples {
		switch s.Value.Kind() {
		case metrics.KindUint64:
			v := s.Value.Uint64()
			if strings.HasSuffix(s.Name, ":bytes") {
				fmt.Fprintf(&b, "%-48s %8.2f MiB\n", s.Name, float64(v)/(1<<20))
			} else {
				fmt.Fprintf(&b, "%-48s %8d\n", s.Name, v)
			}
		}
	}
	b.WriteString("smaps resident by mapping (MiB):\n")
	for _, m := range smapsRSS() {
		fmt.Fprintf(&b, "  %8.2f  %s\n", float64(m.kib)/1024, m.name)
	}
	os.WriteFile(t.path, []byte(b.String()), 0o644)
}

type mapRSS struct {
	name string
	kib  int64
}

// smapsRSS sums the resident KiB of this process's mappings by name
// (anonymous ones by size class, so that the Go heap's arenas and other
// mappings such as a key set's array can be told apart).
func smapsRSS() []mapRSS {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil
	}
	defer f.Close()
	sum := map[string]int64{}
	var order []string
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		fields := bytes.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if bytes.Contains(fields[0], []byte("-")) && !bytes.HasSuffix(fields[0], []byte(":")) {
			// A mapping's header: range perms offset dev inode [path].
			var lo, hi uint64
			fmt.Sscanf(string(fields[0]), "%x-%x", &lo, &hi)
			cur = "anon"
			if len(fields) >= 6 {
				cur = string(fields[5])
			} else {
				cur = fmt.Sprintf("anon %s %.1f MiB", fields[1], float64(hi-lo)/(1<<20))
			}
			continue
		}
		if string(fields[0]) == "Rss:" && len(fields) >= 2 {
			n, _ := strconv.ParseInt(string(fields[1]), 10, 64)
			if n == 0 {
				continue
			}
			if _, ok := sum[cur]; !ok {
				order = append(order, cur)
			}
			sum[cur] += n
		}
	}
	out := make([]mapRSS, 0, len(order))
	for _, n := range order {
		out = append(out, mapRSS{n, sum[n]})
	}
	return out
}

// statusKiB is one kB field of b, the text of /proc/self/status, 0 when
// absent.
func statusKiB(b []byte, field string) int64 {
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return n
			}
		}
	}
	return 0
}
