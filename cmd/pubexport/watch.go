package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/cmd/pubexport/internal/progress"
)

// watched is one operation on the display.
type watched struct {
	op   *longrunningpb.Operation
	task *progress.Task
}

// maxPollErrors is how many Get failures in a row end a watch: a restart of
// the server or a network blip is ridden out, a server gone for good is not.
const maxPollErrors = 10

// watch polls every operation with Get until all are done, feeding the
// display. The first SIGINT/SIGTERM cancels the operations (they end
// CANCELLED and their staging is removed) and keeps watching until they
// say so; the second exits at once. It reports whether it was interrupted.
func watch(ctx context.Context, a *app, be backend, items []*watched, interval time.Duration, msgs io.Writer) (interrupted bool, err error) {
	sig, stop := a.signals()
	defer stop()
	defer func() {
		// A display waits for every task: end those left running.
		for _, w := range items {
			if !w.op.GetDone() {
				w.task.Finish(snapshotOf(w.op), errors.New("still running; no longer watched"))
			}
		}
	}()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	errs := 0
	for {
		pending := 0
		for _, w := range items {
			if w.op.GetDone() {
				continue
			}
			op, err := be.Get(ctx, w.op.GetName())
			if err != nil {
				if c := status.Code(err); c == codes.NotFound || c == codes.PermissionDenied || c == codes.Unauthenticated || ctx.Err() != nil {
					return interrupted, fmt.Errorf("watching %s: %w", w.op.GetName(), err)
				}
				if errs++; errs >= maxPollErrors {
					return interrupted, fmt.Errorf("watching %s: %d failed polls in a row, the last: %w", w.op.GetName(), errs, err)
				}
				pending++
				continue
			}
			errs = 0
			w.op = op
			if op.GetDone() {
				w.task.Finish(snapshotOf(op), shortFailure(op))
				continue
			}
			w.task.Update(snapshotOf(op))
			pending++
		}
		if pending == 0 {
			return interrupted, nil
		}
		select {
		case <-ctx.Done():
			return interrupted, ctx.Err()
		case <-sig:
			if interrupted {
				fmt.Fprintln(msgs, "Interrupted again: exiting without waiting for the cancellation.")
				a.hardExit(exitInterrupted)
				return true, &exitError{code: exitInterrupted}
			}
			interrupted = true
			fmt.Fprintln(msgs, "Interrupted: cancelling the export (press Ctrl-C again to exit at once).")
			for _, w := range items {
				if !w.op.GetDone() {
					if err := be.Cancel(ctx, w.op.GetName()); err != nil {
						fmt.Fprintf(msgs, "Could not cancel %s: %s\n", w.op.GetName(), message(err))
					}
				}
			}
		case <-ticker.C:
		}
	}
}
