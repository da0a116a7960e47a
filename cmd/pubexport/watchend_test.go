package main

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"

	"pubexport/cmd/pubexport/internal/progress"
)

// endingBackend is a backend whose one operation ends when end is closed,
// and that says so to Wait (see ender).
type endingBackend struct {
	backend // only Get and Wait are called
	end     chan struct{}
	gets    atomic.Int32
}

func (b *endingBackend) Get(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	b.gets.Add(1)
	select {
	case <-b.end:
		return &longrunningpb.Operation{Name: name, Done: true}, nil
	default:
		return &longrunningpb.Operation{Name: name}, nil
	}
}

func (b *endingBackend) Wait(ctx context.Context, name string, _ time.Duration) (*longrunningpb.Operation, error) {
	select {
	case <-b.end:
	case <-ctx.Done():
	}
	return b.Get(ctx, name)
}

// TestWatchPollsWhenAnExportEnds: with a backend that says when an
// operation ends (exports run in this process), the watch sees the end at
// once rather than at its next tick: here the tick is an hour away (the
// test's context ends long before it, failing the watch).
func TestWatchPollsWhenAnExportEnds(t *testing.T) {
	t.Parallel()
	be := &endingBackend{end: make(chan struct{})}
	disp := progress.New(io.Discard, progress.Options{})
	w := &watcher{be: be, interval: time.Hour, msgs: io.Discard,
		items: []*watched{{op: &longrunningpb.Operation{Name: "operations/x"}, task: disp.Add("apps")}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := w.run(ctx, nil)
		done <- err
	}()
	close(be.end)
	if err := <-done; err != nil {
		t.Fatalf("the watch ended with %v", err)
	}
	if !w.items[0].op.GetDone() {
		t.Error("the watch ended before it saw the operation done")
	}
	if n := be.gets.Load(); n > 3 { // the polls, and Wait's own Get
		t.Errorf("%d Get calls, want at most 3", n)
	}
	disp.Wait()
}
