package exporttest

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Code fails t at once unless err carries the gRPC code want, and reports
// each of mentions its message lacks: an error must say what to fix.
func Code(t testing.TB, err error, want codes.Code, mentions ...string) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("error %v: code %v, want %v", err, got, want)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

// Eventually polls cond until it holds. It has no deadline of its own: the
// test's (go test -timeout, or t.Context's end) bounds it, so that a slow,
// busy machine makes a test slower, never wrong.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
