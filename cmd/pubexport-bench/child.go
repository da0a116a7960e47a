package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"pubexport/cmd/internal/memlimit"
	"pubexport/export/apigee"
	"pubexport/formats"
)

// childEnv, when set, makes the binary run one export in-process and exit
// instead of running the harness. The harness re-executes itself this way
// so that the child's peak RSS, which the OS reports per process, is the
// exporter's alone: no harness, no emulator.
const childEnv = "PUBEXPORT_BENCH_CHILD"

// childSpec is the export a child runs, passed as JSON in childEnv.
type childSpec struct {
	URL      string `json:"url"`
	Resource string `json:"resource"`
	Format   string `json:"format"`
	Dest     string `json:"dest"`
}

// childMain runs the export childEnv describes and prints its result as
// JSON on stdout.
func childMain(spec string, stdout, stderr io.Writer) int {
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintf(stderr, "pubexport-bench child: bad %s: %v\n", childEnv, err)
		return 2
	}
	// The child is one `pubexport run` of one resource: the same soft
	// memory limit (see package memlimit).
	memlimit.Set(memlimit.Process + memlimit.Export(formats.Format(s.Format), apigee.Resource(s.Resource)))
	heap := watchHeap()
	res, err := runExport(context.Background(), exportJob{
		apigeeURL: s.URL,
		resource:  apigee.Resource(s.Resource),
		format:    formats.Format(s.Format),
		dest:      s.Dest,
	})
	if err != nil {
		fmt.Fprintf(stderr, "pubexport-bench child: %v\n", err)
		return 1
	}
	out := childResult{exportResult: res, PeakKiB: selfPeakRSSKiB(), PeakLiveKiB: heap.Stop()}
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		fmt.Fprintf(stderr, "pubexport-bench child: %v\n", err)
		return 1
	}
	return 0
}

// childResult is what a child prints.
type childResult struct {
	exportResult
	// PeakKiB is the peak RSS of the child's own address space as the OS
	// reports it to the child (VmHWM on Linux), 0 where unknown.
	PeakKiB int64 `json:"peakKiB"`
	// PeakLiveKiB is the largest live heap a collection found during the
	// export (see heapWatch): what the export holds, which the machine's
	// load does not shift as it shifts peak RSS.
	PeakLiveKiB int64 `json:"peakLiveKiB"`
}

// childRun is what the parent learns of a child export.
type childRun struct {
	childResult
	// MaxRSSKiB is getrusage's ru_maxrss for the child. On Linux it also
	// counts the parent's resident pages at the fork: Go starts children
	// with vfork (shared memory until exec), and the kernel folds the
	// shared address space's high-water mark into the child's maxrss at
	// exec. Below the harness's own RSS it says nothing about the child.
	MaxRSSKiB int64
	CPU       time.Duration // user + system time of the child
}

// Peak is the child's peak RSS in KiB: its own high-water mark where the
// OS tells it, else ru_maxrss.
func (c childRun) Peak() int64 {
	if c.PeakKiB > 0 {
		return c.PeakKiB
	}
	return c.MaxRSSKiB
}

// runChild re-executes this binary to run one export and returns the
// child's result with its peak RSS (getrusage ru_maxrss, KiB on Linux).
func runChild(ctx context.Context, s childSpec) (childRun, error) {
	self, err := os.Executable()
	if err != nil {
		return childRun{}, fmt.Errorf("finding this binary to re-execute: %w", err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return childRun{}, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	cmd.SysProcAttr = childAttr()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return childRun{}, fmt.Errorf("export child: %w: %s", err, bytes.TrimSpace(errOut.Bytes()))
	}
	var res childRun
	if err := json.Unmarshal(out.Bytes(), &res.childResult); err != nil {
		return childRun{}, fmt.Errorf("export child printed %q: %w", out.String(), err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return childRun{}, fmt.Errorf("no resource usage for the child on this OS")
	}
	res.MaxRSSKiB = maxRSSKiB(ru)
	res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, nil
}
