package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/cmd/pubexport/internal/progress"
	"pubexport/operations"
)

// watched is one operation on the display.
type watched struct {
	op   *longrunningpb.Operation
	task *progress.Task
}

// maxPollErrors is how many Get failures in a row end a watch: a restart of
// the server or a network blip is ridden out, a server gone for good is not.
const maxPollErrors = 10

// suspender is a backend that runs exports in this process and can stop
// them at their last checkpoint, keeping them resumable (local).
type suspender interface {
	Suspend() error
}

// ender is a backend that says when an operation ends: one that runs the
// exports in this process. The watch polls as soon as one ends rather than
// at its next tick, which put up to an interval (200 ms) on the wall time
// of every local `pubexport run`.
type ender interface {
	Wait(ctx context.Context, name string, timeout time.Duration) (*longrunningpb.Operation, error)
}

// watcher polls operations until they are done, feeding the display, and
// turns signals into what a person at a terminal expects:
//
//   - Ctrl-C (SIGINT) cancels the operations this process runs: they end
//     CANCELLED and their staging objects are removed; the watch goes on
//     until they say so. Operations run elsewhere (detach) are left
//     running: Ctrl-C stops the watching and says how to cancel them.
//   - SIGTERM and SIGHUP (a shutdown, a closed terminal) suspend the exports
//     this process runs at their last checkpoint, so that `pubexport
//     operations resume` continues them; exports run elsewhere (a server)
//     are left running and only the watching stops.
//   - A second signal of any kind exits at once.
//
// Cancelling and suspending run in goroutines so that the second signal is
// heard while they are under way.
type watcher struct {
	a        *app
	be       backend
	items    []*watched
	interval time.Duration
	msgs     io.Writer
	// sig is the command's subscription, taken before it started anything.
	sig <-chan os.Signal
	// detach, when set, makes Ctrl-C stop the watching only, as gcloud
	// does for operations run elsewhere: the exports go on, and this is
	// the command that cancels one (%s is its name). Empty: Ctrl-C
	// cancels (exports this process runs).
	detach string
	// detached is set once Ctrl-C stopped the watching.
	detached bool
}

// run watches until every operation is done, or the exports are suspended,
// or a second signal. pending is a signal the command received before the
// watch began (nil for none). It returns the first signal that stopped the
// exports (nil for none).
func (w *watcher) run(ctx context.Context, pending os.Signal) (stopped os.Signal, err error) {
	r := &watchRun{watcher: w, suspended: make(chan struct{})}
	defer r.finishUnwatched()
	defer r.waitStops()
	if pending != nil {
		if end, err := r.handle(ctx, pending); end {
			return r.stopped, err
		}
	}
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the waits of ends
	ended := w.ends(wctx)
	for {
		running, err := r.poll(ctx)
		if err != nil {
			return r.stopped, err
		}
		if running == 0 || r.isSuspended {
			return r.stopped, nil
		}
		select {
		case <-ctx.Done():
			return r.stopped, ctx.Err()
		case s := <-w.sig:
			if end, err := r.handle(ctx, s); end {
				return r.stopped, err
			}
		case <-r.suspended:
			// Poll once more for the state the exports were saved in.
			r.isSuspended = true
			r.suspended = nil
		case <-ticker.C:
		case <-ended:
		}
	}
}

// ends returns a channel that receives once for each watched operation
// that ends, when the backend can say so (see ender); nil otherwise. Each
// wait ends with its operation or with ctx, and sends into room made for
// it, so none outlives ctx.
func (w *watcher) ends(ctx context.Context) <-chan struct{} {
	e, ok := w.be.(ender)
	if !ok {
		return nil
	}
	ended := make(chan struct{}, len(w.items))
	for _, it := range w.items {
		if it.op.GetDone() {
			continue
		}
		name := it.op.GetName()
		go func() {
			_, _ = e.Wait(ctx, name, 0)
			ended <- struct{}{}
		}()
	}
	return ended
}

// watchRun is the state of one watcher.run: what the signals did so far.
type watchRun struct {
	*watcher
	// stopped is the first signal, nil before one came.
	stopped os.Signal
	// stops are the cancels and the suspend under way; the command waits
	// for them unless abandoned (a second signal) says not to.
	stops     sync.WaitGroup
	abandoned bool
	// suspended is closed once Suspend returned, and isSuspended set once
	// the loop has seen it.
	suspended   chan struct{}
	isSuspended bool
	// errs counts the failed polls in a row.
	errs int
}

// finishUnwatched ends the display's tasks still running, since a display
// waits for every task, saying why they are no longer followed.
func (r *watchRun) finishUnwatched() {
	why := "still running; no longer watched"
	if r.isSuspended {
		why = "suspended at its last checkpoint; resumable"
	}
	for _, it := range r.items {
		if !it.op.GetDone() {
			it.task.Finish(snapshotOf(it.op), errors.New(why))
		}
	}
}

// waitStops lets the cancels and the suspend under way end before the
// command does, unless a second signal asked to exit at once.
func (r *watchRun) waitStops() {
	if !r.abandoned {
		r.stops.Wait()
	}
}

// poll gets every operation not yet done once, feeding the display, and
// returns how many are still running. It gives up at once on an answer
// that will not change (the operation is gone, access is refused) and
// after maxPollErrors failures in a row otherwise.
func (r *watchRun) poll(ctx context.Context) (running int, err error) {
	for _, it := range r.items {
		if it.op.GetDone() {
			continue
		}
		op, err := r.be.Get(ctx, it.op.GetName())
		if err != nil {
			if c := status.Code(err); c == codes.NotFound || c == codes.PermissionDenied || c == codes.Unauthenticated || ctx.Err() != nil ||
				errors.Is(err, operations.ErrEndNotRecorded) {
				return 0, fmt.Errorf("watching %s: %w", it.op.GetName(), err)
			}
			if r.errs++; r.errs >= maxPollErrors {
				return 0, fmt.Errorf("watching %s: %d failed polls in a row, the last: %w", it.op.GetName(), r.errs, err)
			}
			running++
			continue
		}
		r.errs = 0
		it.op = op
		if op.GetDone() {
			it.task.Finish(snapshotOf(op), shortFailure(op))
			continue
		}
		it.task.Update(snapshotOf(op))
		running++
	}
	return running, nil
}

// handle reacts to signal s as the watcher's doc says; it returns true
// when the watch must end now.
func (r *watchRun) handle(ctx context.Context, s os.Signal) (end bool, err error) {
	if r.stopped != nil {
		fmt.Fprintln(r.msgs, "Signalled again: exiting without waiting for the exports to stop.")
		r.abandoned = true
		r.a.hardExit(signalExit(s))
		return true, &exitError{code: signalExit(s)}
	}
	r.stopped = s
	switch {
	case cancels(s) && r.detach != "":
		r.stopWatching()
		return true, nil
	case cancels(s):
		r.cancelAll(ctx)
		return false, nil
	}
	return r.suspendAll(s), nil
}

// stopWatching is Ctrl-C on exports run elsewhere: they go on, and the
// person is told how to cancel each.
func (r *watchRun) stopWatching() {
	r.detached = true
	fmt.Fprintln(r.msgs, "Interrupted: no longer watching; the exports go on where they run. To cancel:")
	for _, it := range r.items {
		if !it.op.GetDone() {
			fmt.Fprintf(r.msgs, "  "+r.detach+"\n", it.op.GetName())
		}
	}
}

// cancelAll is Ctrl-C on exports this process runs: each is cancelled in
// the background, and the watch goes on until they say they ended.
func (r *watchRun) cancelAll(ctx context.Context) {
	fmt.Fprintln(r.msgs, "Interrupted: cancelling the export (press Ctrl-C again to exit at once).")
	for _, it := range r.items {
		if it.op.GetDone() {
			continue
		}
		name := it.op.GetName()
		r.stops.Go(func() {
			if err := r.be.Cancel(context.WithoutCancel(ctx), name); err != nil {
				fmt.Fprintf(r.msgs, "Could not cancel %s: %s\n", name, message(err))
			}
		})
	}
}

// suspendAll is SIGTERM or SIGHUP (signal s): a backend that runs the
// exports here suspends them in the background and the watch goes on until
// they are saved; for exports run elsewhere only the watching stops, and
// suspendAll returns true.
func (r *watchRun) suspendAll(s os.Signal) (end bool) {
	sp, ok := r.be.(suspender)
	if !ok {
		fmt.Fprintf(r.msgs, "Stopping (%s): no longer watching; the exports go on where they run.\n", s)
		return true
	}
	fmt.Fprintf(r.msgs, "Stopping (%s): suspending the exports at their last checkpoint (signal again to exit at once).\n", s)
	done := r.suspended // the loop sets the field to nil once it is closed
	r.stops.Go(func() {
		defer close(done)
		if err := sp.Suspend(); err != nil {
			fmt.Fprintf(r.msgs, "Could not suspend every export: %s\n", message(err))
		}
	})
	return false
}

// detachedError ends a command whose watching Ctrl-C stopped (exit status
// 130), once the results so far are printed.
func (w *watcher) detachedError(printed error) error {
	if printed != nil {
		return printed
	}
	running := 0
	for _, it := range w.items {
		if !it.op.GetDone() {
			running++
		}
	}
	return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted: stopped watching; %d of %d exports still running", running, len(w.items))}
}
