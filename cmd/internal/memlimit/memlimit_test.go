package memlimit

import (
	"runtime/debug"
	"testing"

	"pubexport/export/apigee"
	"pubexport/formats"
)

// TestSet: the limit is what the exports need, GOMEMLIMIT wins, and a
// budget past the machine's memory is cut to three quarters of it.
func TestSet(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })

	want := int64(Process + Export(formats.JSON, apigee.Apps) + Export(formats.Parquet, apigee.Developers))
	if got := Set(want); got != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("Set(%d) = %d, limit now %d", want, got, debug.SetMemoryLimit(-1))
	}
	if avail := Available(); avail > 0 {
		if got := Set(1 << 60); got != avail/4*3 {
			t.Errorf("Set(1 EiB) = %d, want three quarters of the %d bytes available", got, avail)
		}
	}
	t.Setenv("GOMEMLIMIT", "123MiB")
	debug.SetMemoryLimit(123 << 20)
	if got := Set(want); got != 123<<20 {
		t.Errorf("with GOMEMLIMIT=123MiB, Set(%d) = %d, want the variable's 123 MiB", want, got)
	}
}
