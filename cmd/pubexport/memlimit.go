package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// exportMemory is what one in-process export may be expected to hold at
// its peak (pages, encoders, upload buffers: a 12,000-app Parquet export
// measured ~70 MiB), with room for the server itself.
const exportMemory = 256 << 20

// defaultMaxExports is how many exports serve runs at once by default: the
// memory it may use (the cgroup limit in a container, such as Cloud Run's
// memory setting; else the machine's) divided by exportMemory, at least 1.
func defaultMaxExports() int {
	mem := memoryLimit()
	if mem <= 0 {
		return 4
	}
	return max(1, int(mem/exportMemory))
}

// memoryLimit returns the cgroup memory limit (v2, then v1), or the
// machine's memory when there is none; 0 when neither is known.
func memoryLimit() int64 {
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
