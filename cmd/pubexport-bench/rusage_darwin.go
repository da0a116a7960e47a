package main

import (
	"syscall"
	"time"
)

// maxRSSKiB is ru_maxrss in KiB: macOS reports it in bytes.
func maxRSSKiB(ru *syscall.Rusage) int64 { return ru.Maxrss / 1024 }

// selfPeakRSSKiB is unknown here; the parent uses ru_maxrss.
func selfPeakRSSKiB() int64 { return 0 }

// procCPU is unknown here.
func procCPU(pid int) time.Duration { return 0 }

// loadAverage is unknown here.
func loadAverage() string { return "" }

// childAttr has nothing to add here.
func childAttr() *syscall.SysProcAttr { return nil }
