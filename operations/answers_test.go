package operations_test

import (
	"context"
	"fmt"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"

	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/operations/operationspb"
)

// TestGetSeesEveryChange: Get decodes an unchanged record once and answers
// every poll with that operation, so it must see every change another
// process makes at the very next Get: an edit, and a deletion and
// re-creation under the same name with other content, which starts a
// local record's generations over (a cache keyed by name and generation
// would answer with the operation that was deleted).
func TestGetSeesEveryChange(t *testing.T) {
	for _, b := range []backend{local, gcs} {
		t.Run(string(b), func(t *testing.T) {
			e := newEnv(t, b, emulator.GenerateSpec{Developers: 1, Seed: 1}, emulator.Options{})
			m := e.manager("poller")
			ctx := context.Background()
			created, err := m.Create(ctx, e.request("developers", "json"))
			if err != nil {
				t.Fatal(err)
			}
			name := created.GetName()
			describe := func(rec *operationspb.OperationRecord, desc string) {
				t.Helper()
				op := new(longrunningpb.Operation)
				if err := rec.GetOperation().UnmarshalTo(op); err != nil {
					t.Fatal(err)
				}
				md := metadataOf(t, op)
				md.Progress.Description = &desc
				if op.Metadata, err = anypb.New(md); err != nil {
					t.Fatal(err)
				}
				if rec.Operation, err = anypb.New(op); err != nil {
					t.Fatal(err)
				}
			}
			get := func(want string) *longrunningpb.Operation {
				t.Helper()
				op, err := m.Get(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if got := metadataOf(t, op).GetProgress().GetDescription(); got != want {
					t.Fatalf("Get: description %q, want %q", got, want)
				}
				return op
			}

			first := get("waiting to start")
			if again := get("waiting to start"); again != first {
				t.Error("an unchanged record was decoded again (the answer is another message)")
			}

			// Deleted and created again, at the same generation.
			st := e.store()
			rec, gen, err := st.Get(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, name); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Get(ctx, name); err == nil {
				t.Fatal("Get of a deleted record succeeded")
			} else {
				wantCode(t, err, codes.NotFound, name)
			}
			describe(rec, "re-created")
			regen, err := st.Create(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			if b == local && regen != gen {
				t.Fatalf("a re-created local record has generation %d, the first %d: the case this test is for is gone", regen, gen)
			}
			get("re-created")

			// Edited, several times in a row, each seen at once.
			for i := range 3 {
				want := fmt.Sprint("edited ", i)
				e.edit(name, func(_ *operationspb.OperationRecord, _ *longrunningpb.Operation, md *apigeepb.OperationMetadata) {
					md.Progress.Description = &want
				})
				get(want)
				get(want)
			}
		})
	}
}
