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
	suspended := make(chan struct{}) // closed once Suspend returned
	isSuspended := false
	defer func() {
		// A display waits for every task: end those left running.
		why := "still running; no longer watched"
		if isSuspended {
			why = "suspended at its last checkpoint; resumable"
		}
		for _, it := range w.items {
			if !it.op.GetDone() {
				it.task.Finish(snapshotOf(it.op), errors.New(why))
			}
		}
	}()
	var wg sync.WaitGroup
	abandoned := false // a second signal: do not wait for anything
	defer func() {
		if !abandoned {
			wg.Wait() // cancels still under way end before the command does
		}
	}()

	// handle reacts to a signal; it returns true when the watch must end now.
	handle := func(s os.Signal) (bool, error) {
		if stopped != nil {
			fmt.Fprintln(w.msgs, "Signalled again: exiting without waiting for the exports to stop.")
			abandoned = true
			w.a.hardExit(signalExit(s))
			return true, &exitError{code: signalExit(s)}
		}
		stopped = s
		if cancels(s) && w.detach != "" {
			w.detached = true
			fmt.Fprintln(w.msgs, "Interrupted: no longer watching; the exports go on where they run. To cancel:")
			for _, it := range w.items {
				if !it.op.GetDone() {
					fmt.Fprintf(w.msgs, "  "+w.detach+"\n", it.op.GetName())
				}
			}
			return true, nil
		}
		if cancels(s) {
			fmt.Fprintln(w.msgs, "Interrupted: cancelling the export (press Ctrl-C again to exit at once).")
			for _, it := range w.items {
				if it.op.GetDone() {
					continue
				}
				name := it.op.GetName()
				wg.Go(func() {
					if err := w.be.Cancel(context.WithoutCancel(ctx), name); err != nil {
						fmt.Fprintf(w.msgs, "Could not cancel %s: %s\n", name, message(err))
					}
				})
			}
			return false, nil
		}
		sp, ok := w.be.(suspender)
		if !ok {
			fmt.Fprintf(w.msgs, "Stopping (%s): no longer watching; the exports go on where they run.\n", s)
			return true, nil
		}
		fmt.Fprintf(w.msgs, "Stopping (%s): suspending the exports at their last checkpoint (signal again to exit at once).\n", s)
		wg.Go(func() {
			defer close(suspended)
			if err := sp.Suspend(); err != nil {
				fmt.Fprintf(w.msgs, "Could not suspend every export: %s\n", message(err))
			}
		})
		return false, nil
	}
	if pending != nil {
		if end, err := handle(pending); end {
			return stopped, err
		}
	}

	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	errs := 0
	for {
		pending := 0
		for _, it := range w.items {
			if it.op.GetDone() {
				continue
			}
			op, err := w.be.Get(ctx, it.op.GetName())
			if err != nil {
				if c := status.Code(err); c == codes.NotFound || c == codes.PermissionDenied || c == codes.Unauthenticated || ctx.Err() != nil ||
					errors.Is(err, operations.ErrEndNotRecorded) {
					return stopped, fmt.Errorf("watching %s: %w", it.op.GetName(), err)
				}
				if errs++; errs >= maxPollErrors {
					return stopped, fmt.Errorf("watching %s: %d failed polls in a row, the last: %w", it.op.GetName(), errs, err)
				}
				pending++
				continue
			}
			errs = 0
			it.op = op
			if op.GetDone() {
				it.task.Finish(snapshotOf(op), shortFailure(op))
				continue
			}
			it.task.Update(snapshotOf(op))
			pending++
		}
		if pending == 0 || isSuspended {
			return stopped, nil
		}
		select {
		case <-ctx.Done():
			return stopped, ctx.Err()
		case s := <-w.sig:
			if end, err := handle(s); end {
				return stopped, err
			}
		case <-suspended:
			// Poll once more for the state the exports were saved in.
			isSuspended = true
			suspended = nil
		case <-ticker.C:
		}
	}
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
