package main

import (
	"pubexport/cmd/internal/memlimit"
	"pubexport/export/apigee"
	"pubexport/formats"
	"pubexport/operations/operationspb"
)

// exportMemory is what one in-process export may be expected to hold at
// its peak (pages, encoders, upload buffers: a 12,000-app Parquet export
// measured ~70 MiB), with room for the server itself.
const exportMemory = 256 << 20

// defaultMaxExports is how many exports serve runs at once by default: the
// memory it may use (the cgroup limit in a container, such as Cloud Run's
// memory setting; else the machine's) divided by exportMemory, at least 1.
func defaultMaxExports() int {
	mem := memlimit.Available()
	if mem <= 0 {
		return 4
	}
	return max(1, int(mem/exportMemory))
}

// limitMemory sets the process's soft memory limit for running reqs here,
// all at once (see package memlimit).
func (a *app) limitMemory(reqs []*operationspb.ExportRequest) {
	if a.setMemoryLimit == nil {
		return
	}
	budget := int64(memlimit.Process)
	for _, r := range reqs {
		budget += memlimit.Export(formats.Format(r.GetFormat()), apigee.Resource(r.GetResource()))
	}
	a.setMemoryLimit(budget)
}

// limitServerMemory sets the soft memory limit of a server that runs up to
// n exports at once, in any format, with room for the API's own work.
func (a *app) limitServerMemory(n int) {
	if a.setMemoryLimit != nil {
		a.setMemoryLimit(4*memlimit.Process + int64(n)*memlimit.ParquetExport)
	}
}
