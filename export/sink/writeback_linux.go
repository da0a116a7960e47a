package sink

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing the n bytes of f at off
// to disk, without waiting for them (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It promises nothing about durability: the fsync
// at Close still does that, and reports any error of the writing. Its
// only effect is that the fsync finds little left to write.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
