package export

import (
	"context"
	"io"
	"strings"

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
// sequential run. A checkpoint names where that sequential order stands
// and what each later pass had spilled by then (Checkpoint.Spilled): a
// resumed run reuses those spills and continues each pass from its own
// cursor (see export/apigee/spilled.go).
func (x *run) readAhead(p Pages) {
	ra, ok := p.(interface {
		ReadAhead(parallel int, spill apigee.Spill, from *apigee.Spilled)
	})
	if !ok {
		return
	}
	n := x.r.MaxParallelRequests
	if n <= 0 {
		n = apigee.DefaultParallelRequests
	}
	var from *apigee.Spilled
	if x.resumed {
		from = x.cp.Spilled
	}
	ra.ReadAhead(n, bucketSpill{b: x.r.Bucket, ready: x.spillReady, prefix: x.stagingName("spill-")}, from)
}

// spillReady waits until a reader may spill. A reader spills only a page
// the API answered, which shows that the listing is allowed as well as the
// first page would: when the organization check was left to the first
// page (see prepare), it decides the check too. Waiting for the first page
// itself could wait forever, since that page may be read from the spill
// (an empty first apps pass).
func (x *run) spillReady(ctx context.Context) error {
	x.listed.decide(nil)
	return x.ready.waitContext(ctx)
}

// bucketSpill is an apigee.Spill in the run's staging folder: its objects
// are named prefix + the spill's name. Nothing is spilled before the run's
// checks pass (ready).
type bucketSpill struct {
	b      sink.Bucket
	ready  func(context.Context) error
	prefix string
}

func (s bucketSpill) Create(ctx context.Context, name string) (apigee.SpillWriter, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	w, err := s.b.NewWriter(ctx, s.prefix+name, sink.Attrs{ContentType: "application/octet-stream"})
	if err != nil {
		return nil, err
	}
	return spillWriter{w}, nil
}

func (s bucketSpill) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return s.b.NewReader(ctx, s.prefix+name)
}

func (s bucketSpill) Sizes(ctx context.Context, prefix string) (map[string]int64, error) {
	objs, err := s.b.List(ctx, s.prefix+prefix)
	if err != nil {
		return nil, err
	}
	sizes := make(map[string]int64, len(objs))
	for _, o := range objs {
		sizes[strings.TrimPrefix(o.Name, s.prefix)] = o.Size
	}
	return sizes, nil
}

type spillWriter struct{ w sink.Writer }

func (w spillWriter) Write(p []byte) (int, error) { return w.w.Write(p) }
func (w spillWriter) Close() error {
	_, err := w.w.Close()
	return err
}
func (w spillWriter) Abort() { w.w.Abort() }
