package sink

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
)

// settleTimeout bounds a request that creates an object (the last request
// of an upload, a compose, a publish copy) once it has been sent.
//
// Such a request is not cut short when the caller's context ends. Cloud
// Storage may carry out a request whose client hung up, at any moment
// after, so a create cut short has an unknown outcome: an object may
// appear after the caller has given up on it. A cancelled export lists
// its staging folder to remove it as soon as its last call returns; an
// object committed after that listing would stay for good, and a publish
// completed after it would be published with no run to account for it.
// Waiting for the answer makes every create either done or not done
// before the call returns. The caller's cancellation still stops a
// request that has not been sent, and everything an upload does before
// its last request (nothing is committed until then).
//
// The bound keeps that wait finite when Cloud Storage does not answer:
// every call is retried (by default 8 attempts, backoff up to 32 s), and
// two minutes, as for export.Cleanup, is past what that takes for one
// chunk on a healthy connection. A create that outlives it has an unknown
// outcome again; what it leaves lies under the run's staging names, which
// the next cleanup of that run (a rerun, Recover, a cancel) removes.
const settleTimeout = 2 * time.Minute

// errSettleTimeout is the cause of a create cut short by its settle timeout.
var errSettleTimeout = errors.New("settle timeout")

// settle runs call, a request that creates an object, to its outcome: not
// at all when ctx has already ended, else with ctx's values but not its
// cancellation, within timeout (see settleTimeout for why).
func settle[T any](ctx context.Context, timeout time.Duration, call func(context.Context) (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	sctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), timeout, errSettleTimeout)
	defer cancel()
	v, err := call(sctx)
	return v, settleError(sctx, timeout, err)
}

// settleError is err, from a create run under sctx, as DEADLINE_EXCEEDED
// saying what it means when sctx's settle timeout cut the create short.
func settleError(sctx context.Context, timeout time.Duration, err error) error {
	if err == nil || !errors.Is(context.Cause(sctx), errSettleTimeout) {
		return err
	}
	return newError(codes.DeadlineExceeded, err, "Cloud Storage did not answer within %v; the outcome is unknown, and the next cleanup of the run's staging removes what it may have left", timeout)
}
