package export

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"pubexport/export/apigee"
)

// What a run does before it writes: check the destination, remove what an
// earlier attempt left in its staging folder, and check the organization.
// Each is a round trip, the organization's as long as a page's, so on a
// fresh run the organization check and the first page request go out
// together once the bucket side is done (a destination that fails costs
// no Apigee request), and writing waits for all of it.
//
// Reading the organization is not among the methods an export needs, so a
// principal may be denied it and still list everything: then the first
// page is the organization check (its 403 is PERMISSION_DENIED as any
// other, its records prove the lists are allowed), and writing waits for
// that page too, or for a page of a later apps pass read ahead, which
// proves as much (see spillReady).

// gate is decided once; wait blocks until then.
type gate struct {
	once sync.Once
	done chan struct{}
	err  error
}

func newGate() *gate { return &gate{done: make(chan struct{})} }

// decide settles the gate; later calls do nothing.
func (g *gate) decide(err error) {
	g.once.Do(func() {
		g.err = err
		close(g.done)
	})
}

// wait blocks until the gate is decided. It does not watch a context: what
// decides it (prepare) stops with the run's context, so it is bounded.
func (g *gate) wait() error {
	<-g.done
	return g.err
}

// waitContext is wait for a waiter that may be stopped before the gate is
// decided: a spill reader, which its listing stops after a failed first
// page, the page that may decide the gate (see checkAndTidy).
func (g *gate) waitContext(ctx context.Context) error {
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// prepareError is a failure found before anything of the run was written:
// Run reports it as it is and has nothing to clean up.
type prepareError struct{ err error }

func (e *prepareError) Error() string { return e.err.Error() }
func (e *prepareError) Unwrap() error { return e.err }

// prepare starts the checks and the tidy-up of an earlier attempt. It
// decides x.dest when the bucket side is done (the listing may start
// then), x.checked when the organization check has answered (passed, or
// left to the first page: a resumed run may then read its staging
// objects) and x.ready when the run may write. The record count of the
// last manifest, only a guide for the percentage and so never waited for,
// is read afterwards into x.estimate.
func (x *run) prepare(ctx context.Context) {
	x.dest, x.checked, x.ready, x.listed = newGate(), newGate(), newGate(), newGate()
	if x.cp.Total < 0 && x.spec.Resource != apigee.Apps {
		x.estimate = make(chan int64, 1)
	}
	go func() {
		err := x.safely("checking the destination and organization of "+x.spec.Target(), func() error {
			return x.checkAndTidy(ctx)
		})
		x.dest.decide(err) // if checkAndTidy failed before deciding it
		x.checked.decide(err)
		x.ready.decide(err)
		if err == nil && x.estimate != nil {
			x.estimate <- previousTotal(ctx, x.r.Bucket, x.spec)
		}
	}()
}

// checkAndTidy checks the destination and removes the staging objects of
// an earlier attempt (bucket calls, quick beside Apigee's latency), then
// checks the organization while the listing's first request goes out.
func (x *run) checkAndTidy(ctx context.Context) error {
	if err := x.r.Bucket.Check(ctx); err != nil {
		return fmt.Errorf("checking the destination %s: %w", x.spec.Destination, err)
	}
	switch {
	case x.restart:
		if err := Cleanup(ctx, x.r.Bucket, x.cp.StagingID); err != nil {
			return fmt.Errorf("removing the staging objects of the interrupted run: %w", err)
		}
		x.log.Info("restarting from the beginning: this format cannot be resumed", "format", x.spec.Format)
	case x.rerun:
		if err := Cleanup(ctx, x.r.Bucket, x.cp.StagingID); err != nil {
			return fmt.Errorf("removing the staging objects of an earlier attempt: %w", err)
		}
	}
	x.dest.decide(nil)
	err := x.r.Source.CheckOrganization(ctx, x.spec.Org)
	switch {
	case errors.Is(err, apigee.ErrOrganizationUnreadable):
		x.log.Info("reading the organization was denied; its first page decides instead", "org", x.spec.Org)
		x.checked.decide(nil)
		if err := x.listed.wait(); err != nil {
			return fmt.Errorf("checking organization %q by its first page, since reading the organization itself was denied: %w", x.spec.Org, err)
		}
	case err != nil:
		return fmt.Errorf("checking organization %q: %w", x.spec.Org, err)
	}
	return nil
}

// safely runs f, turning a panic into the run's INTERNAL error: a panic
// on this goroutine would end the process, not just the run.
func (x *run) safely(what string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = PanicError(x.log, what, p)
		}
	}()
	return f()
}

// takeEstimate picks up the record count of the last manifest once it has
// been read.
func (x *run) takeEstimate() {
	if x.estimate == nil {
		return
	}
	select {
	case t := <-x.estimate:
		if x.cp.Total < 0 {
			x.cp.Total = t
		}
		x.estimate = nil
	default:
	}
}
