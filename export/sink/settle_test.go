package sink_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
)

// TestGCSCreatesOutliveCancel: a create already sent when the caller's
// context ends (an upload's last request, a compose, a publish copy) is
// waited for, so that what the call returns is what the bucket holds.
// Cloud Storage may carry out a request whose client hung up; an object
// that appeared after a cancelled export's cleanup had listed its staging
// would stay for good (the cause of a TestCancel/gcs flake). Here the
// emulator carries out such a request right after the next listing.
func TestGCSCreatesOutliveCancel(t *testing.T) {
	data := randomBytes(7, 1000)
	upload := func(data []byte) func(ctx context.Context, b sink.Bucket) error {
		return func(ctx context.Context, b sink.Bucket) error {
			w, err := b.NewWriter(ctx, "staging/part", sink.Attrs{})
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				w.Abort()
				return err
			}
			_, err = w.Close()
			return err
		}
	}
	cases := []struct {
		name   string
		target string // the object the call creates
		create func(ctx context.Context, b sink.Bucket) error
	}{
		{"upload", "staging/part", upload(data)},
		{"upload in chunks", "staging/part", upload(append(randomBytes(8, 2*chunk), data...))},
		{"compose", "staging/object", func(ctx context.Context, b sink.Bucket) error {
			_, err := b.Compose(ctx, "staging/object", []string{"staging/a", "staging/b"}, sink.Attrs{})
			return err
		}},
		{"publish", "final", func(ctx context.Context, b sink.Bucket) error {
			_, _, err := b.Publish(ctx, "staging/a", "final", sink.Attrs{})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := gcstest.Start(t, testBucket)
			b := openGCS(t, srv, "gs://"+testBucket+"/run")
			write(t, b, "staging/a", data)
			write(t, b, "staging/b", data)
			late := gcstest.HoldCreate(gcstest.CreateOf("run/" + c.target))
			srv.Use(late.Middleware)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- c.create(ctx, b) }()
			select {
			case <-late.Held():
			case err := <-errc:
				t.Fatalf("%s returned %v without sending its create: the test proves nothing", c.name, err)
			}
			cancel()
			var err error
			select {
			case err = <-errc: // gave up on a create whose outcome it cannot know
			case <-time.After(time.Second):
				// Still waiting for the answer, as it should: let it come.
				late.Release()
				err = <-errc
			}
			listed := slices.Contains(names(t, b, ""), c.target)
			<-late.Done()
			srv.Use()
			later := slices.Contains(names(t, b, ""), c.target)
			if err != nil || !listed || !later || late.HungUp() {
				t.Fatalf("%s cancelled while Cloud Storage carried it out: returned %v; listed right after: %v, once the emulator was done: %v (client hung up: %v); want it waited for and created",
					c.name, err, listed, later, late.HungUp())
			}
			if got := read(t, b, c.target); !bytes.HasSuffix(got, data) {
				t.Fatalf("%s holds %d bytes, not what was written", c.target, len(got))
			}
		})
	}
}

// TestGCSCancelledBeforeCreateSendsNothing: a caller whose context has
// ended sends no create at all, and its object does not appear.
func TestGCSCancelledBeforeCreateSendsNothing(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://"+testBucket+"/run")
	write(t, b, "staging/a", []byte("a"))
	ctx, cancel := context.WithCancel(context.Background())
	w, err := b.NewWriter(ctx, "staging/part", sink.Attrs{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("part")); err != nil {
		t.Fatal(err)
	}
	rec := &gcstest.Recorder{}
	srv.Use(rec.Middleware)
	cancel()
	if _, err := w.Close(); err == nil {
		t.Error("Close after the cancel succeeded")
	}
	if _, err := b.Compose(ctx, "staging/object", []string{"staging/a"}, sink.Attrs{}); err == nil {
		t.Error("Compose after the cancel succeeded")
	}
	if _, _, err := b.Publish(ctx, "staging/a", "final", sink.Attrs{}); err == nil {
		t.Error("Publish after the cancel succeeded")
	}
	srv.Use()
	if got := rec.Requests(); len(got) != 0 {
		t.Errorf("a cancelled caller sent %q", got)
	}
	if got := names(t, b, ""); !slices.Equal(got, []string{"staging/a"}) {
		t.Errorf("after the cancel the bucket holds %q", got)
	}
}
