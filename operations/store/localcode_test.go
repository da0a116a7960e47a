package store

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestLocalCode maps the errno values file operations on the store folder
// really return, wrapped as the os package and the store wrap them. A
// read-only file system cannot be mounted in a test without privileges, so
// EROFS is checked here; /sys (read-only or EPERM in a container) is the
// end-to-end case below.
func TestLocalCode(t *testing.T) {
	for _, c := range []struct {
		errno syscall.Errno
		want  codes.Code
	}{
		{syscall.EROFS, codes.PermissionDenied},
		{syscall.EACCES, codes.PermissionDenied},
		{syscall.EPERM, codes.PermissionDenied},
		{syscall.ENOENT, codes.NotFound},
		{syscall.ENOSPC, codes.ResourceExhausted},
		{syscall.EIO, codes.Internal},
	} {
		err := fmt.Errorf("writing: %w", &fs.PathError{Op: "mkdir", Path: "/store", Err: c.errno})
		if got := localCode(err); got != c.want {
			t.Errorf("%v (%d): %v, want %v", c.errno, int(c.errno), got, c.want)
		}
	}
}

// TestLocalUnwritableFolder: a store in a folder that cannot be created is
// PERMISSION_DENIED, not INTERNAL.
func TestLocalUnwritableFolder(t *testing.T) {
	if err := os.Mkdir("/sys/pubexport-probe", 0o755); err == nil {
		os.Remove("/sys/pubexport-probe")
		t.Skip("/sys is writable here")
	}
	_, err := Local("/sys/pubexport-store")
	if code := status.Code(err); code != codes.PermissionDenied {
		t.Fatalf("Local in /sys: %v (%v), want PERMISSION_DENIED", err, code)
	}
}
