package exporttest

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed, fatal bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed, r.fatal = true, true }

func TestCode(t *testing.T) {
	err := status.Error(codes.NotFound, "bucket gs://x does not exist; create it")
	r := &recorder{TB: t}
	Code(r, err, codes.NotFound, "gs://x", "create it")
	if r.failed {
		t.Error("a matching error failed")
	}
	r = &recorder{TB: t}
	Code(r, err, codes.NotFound, "--to")
	if !r.failed || r.fatal {
		t.Error("a missing mention did not fail (softly)")
	}
	r = &recorder{TB: t}
	Code(r, err, codes.InvalidArgument)
	if !r.fatal {
		t.Error("a wrong code did not fail at once")
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, "three polls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("polled %d times", n)
	}
}
