package operations_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/operations"
	"pubexport/operations/operationspb"
)

// panicPages panics on the page after the first `after` ones: a decoder bug
// met on a record, in the goroutine that fetches ahead of the encoder.
type panicPages struct {
	export.Pages
	after int
	n     int
}

func (p *panicPages) Next(ctx context.Context) (*apigee.Page, error) {
	if p.n++; p.n > p.after {
		var empty []int
		_ = empty[p.n] // index out of range, as the real bug was
	}
	return p.Pages.Next(ctx)
}

type panicSource struct{ export.Source }

func (s panicSource) Pages(org string, r apigee.Resource, from apigee.Cursor) export.Pages {
	if r != apigee.Developers {
		return s.Source.Pages(org, r, from)
	}
	return &panicPages{Pages: s.Source.Pages(org, r, from), after: 3}
}

// panicBucket panics when the export publishes: a bug in the goroutine
// that runs the export itself.
type panicBucket struct{ sink.Bucket }

func (b panicBucket) Publish(ctx context.Context, src, dst string, a sink.Attrs) (sink.ObjectInfo, bool, error) {
	if strings.HasPrefix(dst, "ExportFinal_") {
		panic("publishing went wrong")
	}
	return b.Bucket.Publish(ctx, src, dst, a)
}

// TestPanicEndsOnlyItsOperation: an export that panics, in the page
// fetcher or in the export's own goroutine, ends FAILED with INTERNAL and a
// message (no stack: the stack is in the log); the process lives on, an
// export running next to it finishes, its staging is removed, and Recover
// leaves it alone instead of running it into the same panic again.
func TestPanicEndsOnlyItsOperation(t *testing.T) {
	for _, where := range []string{"fetcher", "runner"} {
		t.Run(where, func(t *testing.T) {
			e := newEnv(t, local, emulator.GenerateSpec{Developers: 95, Apps: 120, APIProducts: 4, Seed: 5}, emulator.Options{})
			var panicked atomic.Bool
			open := func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
				src, b, err := e.open(ctx, req)
				if err != nil || req.GetResource() != "developers" {
					return src, b, err
				}
				panicked.Store(true)
				if where == "fetcher" {
					return panicSource{src}, b, nil
				}
				return src, panicBucket{b}, nil
			}
			var logs exporttest.Buffer
			m := e.manager("one", func(c *operations.Config) {
				c.Open = open
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			ctx := context.Background()
			bad, err := m.Start(ctx, e.request("developers", "ndjson"))
			if err != nil {
				t.Fatal(err)
			}
			good, err := m.Start(ctx, e.request("apps", "ndjson"))
			if err != nil {
				t.Fatal(err)
			}
			op, err := m.Wait(ctx, bad.GetName(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !panicked.Load() || !op.GetDone() || codes.Code(op.GetError().GetCode()) != codes.Internal {
				t.Fatalf("panicking export: done %v, error %v; want done with INTERNAL", op.GetDone(), op.GetError())
			}
			msg := op.GetError().GetMessage()
			if !strings.Contains(msg, "internal error") || strings.Contains(msg, "goroutine") || strings.Contains(msg, ".go:") {
				t.Fatalf("error message %q: want the panic, not its stack", msg)
			}
			if md := metadataOf(t, op); md.GetState() != apigeepb.OperationMetadata_FINISHED {
				t.Fatalf("state %v", md.GetState())
			}
			if !strings.Contains(logs.String(), "goroutine") || !strings.Contains(logs.String(), "panicked") {
				t.Fatalf("the stack is not in the log:\n%s", logs.String())
			}
			g, err := m.Wait(ctx, good.GetName(), 0)
			if err != nil {
				t.Fatal(err)
			}
			e.checkResponse(g, len(e.data.Orgs[0].Apps))
			if s := e.staging(); len(s) != 0 {
				t.Fatalf("staging left: %v", s)
			}

			rec, gen := e.record(bad.GetName())
			other := e.manager("two")
			if err := other.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			rec2, gen2 := e.record(bad.GetName())
			if gen2 != gen || rec2.GetAttempts() != rec.GetAttempts() || rec2.GetLeaseHolder() != "" {
				t.Fatalf("Recover touched the failed operation: attempts %d -> %d, generation %d -> %d, holder %q",
					rec.GetAttempts(), rec2.GetAttempts(), gen, gen2, rec2.GetLeaseHolder())
			}
		})
	}
}
