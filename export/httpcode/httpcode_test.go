package httpcode

import (
	"net/http"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
)

// TestRoundTrip: every code survives FromCode then ToCode when the body
// names it, as the polling API's answers do; without a name, the status
// alone gives the code Google's mapping puts first.
func TestRoundTrip(t *testing.T) {
	for c := codes.OK + 1; c <= codes.Unauthenticated; c++ {
		if got := ToCode(FromCode(c), code.Code(c).String()); got != c {
			t.Errorf("%v -> HTTP %d -> %v", c, FromCode(c), got)
		}
	}
	for status, want := range map[int]codes.Code{
		http.StatusConflict: codes.Aborted, http.StatusBadRequest: codes.InvalidArgument,
		http.StatusServiceUnavailable: codes.Unavailable, http.StatusBadGateway: codes.Unavailable,
		StatusClientClosed: codes.Canceled, 418: codes.Unknown, 599: codes.Unavailable,
	} {
		if got := ToCode(status, ""); got != want {
			t.Errorf("HTTP %d without a body status: %v, want %v", status, got, want)
		}
	}
	// A body status that disagrees with the HTTP status loses to it.
	if got := ToCode(http.StatusNotFound, "ALREADY_EXISTS"); got != codes.NotFound {
		t.Errorf("404 named ALREADY_EXISTS: %v", got)
	}
}
