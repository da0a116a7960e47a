// Package memlimit gives a pubexport process a soft memory limit
// (runtime/debug.SetMemoryLimit) sized for the exports it runs.
//
// An export's working set is bounded by design: a few pages in flight, the
// encoder's buffers (a Parquet row group), the upload chunk. Left to GOGC
// alone, the Go heap still creeps past it on a long export: the collector
// sets its next target at twice whatever was live when it last finished,
// and one unlucky moment (every buffer full at once) raises the target for
// good, while memory freed since stays mapped until the background
// scavenger gets to it. A limit just above the working set makes the
// collector and the scavenger hold the heap there, so that peak memory at a
// million records stays close to the peak at ten thousand (see README,
// Performance).
//
// The limit is soft: when an organization's pages are far larger than
// usual, the collector runs more often (the runtime caps it at about half
// the CPU) rather than letting the process fail. GOMEMLIMIT, when set,
// wins.
package memlimit

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"pubexport/export/apigee"
	"pubexport/formats"
)

// Go memory (heap, stacks, runtime metadata) budgeted for the process and
// for each export running in it, measured with cmd/pubexport-bench: at
// 1000 records a page, the live heap of a JSON, NDJSON or CSV export peaks
// at about 10-13 MiB, of a Parquet export at about 16-17.5 MiB (developers)
// and 28 MiB (apps), which also hold a row group, a page of values per
// column and a zstd encoder. A Parquet budget of 40 MiB (48 with the
// process) took a million-app export from 103 to 88 MiB peak RSS for about
// 5% more CPU; 36 MiB cost 9-20% more CPU and 32 MiB 15-19%, while 56 MiB
// never bound (the collector's own target, twice the live heap, came
// first).
//
// Each budget is about one and a half times the export's peak live heap:
// the collector keeps at least half the live heap as headroom, so it runs
// at most about twice as often as GOGC alone would (at the fullest
// moments), and the heap never grows to twice the peak. Developers have
// 15 columns to the apps' 26 and records half an app's size, so their
// Parquet export has its own budget, 24 MiB (32 with the process) for a
// live heap that peaks at 16-17.5 MiB (12-15 MiB between collections). At
// a million developers (five runs each, interleaved, load 9-14) it took
// the anonymous RSS from 37.6-38.0 MiB (28 MiB, 36 in all, which cost no
// measurable CPU) and 41.8-42.4 MiB (the general 40 MiB budget, two runs)
// to 33.9-34.7 MiB, for 5-7% more CPU (35-40% more collections): three
// interleaved runs at load 8-10 gave 7.4-7.5 s before, 8.0 s after. API
// products keep the general Parquet budget: their records are the largest
// and their organizations the smallest.
const (
	Process                = 8 << 20
	RowExport              = 16 << 20
	ParquetExport          = 40 << 20
	ParquetDeveloperExport = 24 << 20
)

// Export is the budget of one export of resource (an apigee.Resource) in
// format f.
func Export(f formats.Format, resource apigee.Resource) int64 {
	switch {
	case f != formats.Parquet:
		return RowExport
	case resource == apigee.Developers:
		return ParquetDeveloperExport
	}
	return ParquetExport
}

// Set sets the soft memory limit to bytes, at most three quarters of the
// memory the process may use (Available), and returns the limit in force.
// It leaves the limit alone when GOMEMLIMIT is set or bytes is not
// positive.
func Set(bytes int64) int64 {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok || bytes <= 0 {
		return debug.SetMemoryLimit(-1)
	}
	if avail := Available(); avail > 0 {
		bytes = min(bytes, avail/4*3)
	}
	debug.SetMemoryLimit(bytes)
	return bytes
}

// Available returns the cgroup memory limit (v2, then v1), such as Cloud
// Run's memory setting, or the machine's memory when there is none; 0 when
// neither is known.
func Available() int64 {
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && n < 1<<50 { // v1 says "no limit" with a huge number
			return n
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
