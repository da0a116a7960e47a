package exporttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/types/known/anypb"

	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
)

func TestEmulatorAndClient(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 3, Seed: 1})
	emu := Emulator(t, data, emulator.Options{})
	p, err := ApigeeClient(t, emu).List("acme", apigee.Developers, apigee.Cursor{}).Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 3 {
		t.Errorf("%d developers listed, want the 3 seeded", len(p.Records))
	}
}

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 8 {
		t.Errorf("%d lines, want 8:\n%s", n, b.String())
	}
}

// getter answers Get with the operation done at the n-th call, or err.
type getter struct {
	calls, n int
	err      error
}

func (g *getter) Get(_ context.Context, name string) (*longrunningpb.Operation, error) {
	g.calls++
	if g.err != nil {
		return nil, g.err
	}
	return &longrunningpb.Operation{Name: name, Done: g.calls >= g.n}, nil
}

func TestDone(t *testing.T) {
	g := &getter{n: 3}
	if op := Done(t, g, "organizations/acme/operations/1"); !op.GetDone() || g.calls != 3 {
		t.Errorf("Done returned %v after %d polls, want done after 3", op, g.calls)
	}
	r := &recorder{TB: t}
	Done(r, &getter{err: errors.New("unavailable")}, "organizations/acme/operations/1")
	if !r.fatal {
		t.Error("a Get error did not fail the test")
	}
}

func TestMetadata(t *testing.T) {
	md, err := anypb.New(&apigeepb.OperationMetadata{State: apigeepb.OperationMetadata_IN_PROGRESS.Enum()})
	if err != nil {
		t.Fatal(err)
	}
	if got := Metadata(t, &longrunningpb.Operation{Metadata: md}); got.GetState() != apigeepb.OperationMetadata_IN_PROGRESS {
		t.Errorf("state %v", got.GetState())
	}
	r := &recorder{TB: t}
	Metadata(r, &longrunningpb.Operation{})
	if !r.fatal {
		t.Error("an operation without metadata did not fail the test")
	}
}
