package export

import (
	"context"
	"io"

	"pubexport/export/apigee"
	"pubexport/export/sink"
)

// readAhead gives a listing that can read several apps passes at once the
// run's cap on requests in flight and a place for the pages it reads
// ahead: staging objects of the run, removed with its staging folder on
// success, failure and cancellation.
//
// The output does not change with the cap: the listing still turns pages
// into records in the sequential order, reading later passes' pages from
// the spill instead of the API (see export/apigee/readahead.go), so the
// encoder, the hash and the checkpoints see exactly the pages of a
// sequential run. A checkpoint names only where that sequential order
// stands; a resumed run reads the later passes again from their start.
func (x *run) readAhead(p Pages) {
	ra, ok := p.(interface {
		ReadAhead(parallel int, spill apigee.Spill)
	})
	if !ok {
		return
	}
	n := x.r.MaxParallelRequests
	if n <= 0 {
		n = apigee.DefaultParallelRequests
	}
	ra.ReadAhead(n, bucketSpill{b: x.r.Bucket, ready: x.ready.wait, name: func(s string) string { return x.stagingName("spill-" + s) }})
}

// bucketSpill is an apigee.Spill in the run's staging folder. Nothing is
// spilled before the run's checks pass (ready).
type bucketSpill struct {
	b     sink.Bucket
	ready func() error
	name  func(string) string
}

func (s bucketSpill) Create(ctx context.Context, name string) (apigee.SpillWriter, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	w, err := s.b.NewWriter(ctx, s.name(name), sink.Attrs{ContentType: "application/octet-stream"})
	if err != nil {
		return nil, err
	}
	return spillWriter{w}, nil
}

func (s bucketSpill) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return s.b.NewReader(ctx, s.name(name))
}

type spillWriter struct{ w sink.Writer }

func (w spillWriter) Write(p []byte) (int, error) { return w.w.Write(p) }
func (w spillWriter) Close() error {
	_, err := w.w.Close()
	return err
}
func (w spillWriter) Abort() { w.w.Abort() }
