package store_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// TestGetServesChangedRecords checks that a store that caches decoded
// records never serves a stale one: a record changed, deleted or re-created
// by another process (another Store on the same backing) is read fresh, and
// changing a record returned by Get does not change what the next Get
// returns.
func TestGetServesChangedRecords(t *testing.T) {
	conformance(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		reader, writer := open(), open()
		get := func(wantAttempts int32, wantGen int64) {
			t.Helper()
			for range 2 { // the second read is the one a cache answers
				rec, gen, err := reader.Get(ctx, opName)
				if err != nil {
					t.Fatal(err)
				}
				if rec.GetAttempts() != wantAttempts || gen != wantGen {
					t.Fatalf("Get = attempts %d, generation %d; want %d, %d", rec.GetAttempts(), gen, wantAttempts, wantGen)
				}
				rec.Attempts = -1 // the caller's copy
			}
		}

		gen, err := writer.Create(ctx, record(t, opName, 1))
		if err != nil {
			t.Fatal(err)
		}
		get(1, gen)
		gen2, err := writer.Update(ctx, record(t, opName, 2), gen)
		if err != nil {
			t.Fatal(err)
		}
		get(2, gen2)
		// The same content written again is a new generation.
		gen3, err := writer.Update(ctx, record(t, opName, 2), gen2)
		if err != nil {
			t.Fatal(err)
		}
		get(2, gen3)
		if err := writer.Delete(ctx, opName); err != nil {
			t.Fatal(err)
		}
		_, _, err = reader.Get(ctx, opName)
		wantCode(t, err, codes.NotFound)
		gen4, err := writer.Create(ctx, record(t, opName, 5))
		if err != nil {
			t.Fatal(err)
		}
		get(5, gen4)
	})
}

// TestPeekLendsUnchangedRecords checks Peek's promise: an unchanged record
// is lent out again as the very same record, any change (by another
// process, even to equal content, or a deletion and re-creation, which
// starts a local record's generations over) is another record with the new
// content, and Get's copies are the caller's own.
func TestPeekLendsUnchangedRecords(t *testing.T) {
	conformance(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		reader, writer := open(), open()
		peeker, ok := reader.(store.Peeker)
		if !ok {
			t.Fatalf("%T is not a store.Peeker", reader)
		}
		var last *operationspb.OperationRecord
		peek := func(wantAttempts int32, wantGen int64, wantSame bool) {
			t.Helper()
			rec, gen, err := peeker.Peek(ctx, opName)
			if err != nil {
				t.Fatal(err)
			}
			if rec.GetAttempts() != wantAttempts || gen != wantGen {
				t.Fatalf("Peek = attempts %d, generation %d; want %d, %d", rec.GetAttempts(), gen, wantAttempts, wantGen)
			}
			if same := rec == last; same != wantSame {
				t.Fatalf("Peek lent the record it lent before = %v, want %v", same, wantSame)
			}
			last = rec
			got, _, err := reader.Get(ctx, opName)
			if err != nil {
				t.Fatal(err)
			}
			if got == rec {
				t.Fatal("Get returned the record Peek lends out, not a copy")
			}
			got.Attempts = -1 // the caller's own
		}

		gen, err := writer.Create(ctx, record(t, opName, 1))
		if err != nil {
			t.Fatal(err)
		}
		peek(1, gen, false)
		peek(1, gen, true)
		gen2, err := writer.Update(ctx, record(t, opName, 2), gen)
		if err != nil {
			t.Fatal(err)
		}
		peek(2, gen2, false)
		peek(2, gen2, true)
		if err := writer.Delete(ctx, opName); err != nil {
			t.Fatal(err)
		}
		if _, _, err := peeker.Peek(ctx, opName); status.Code(err) != codes.NotFound {
			t.Fatalf("Peek of a deleted record: %v, want NOT_FOUND", err)
		}
		gen3, err := writer.Create(ctx, record(t, opName, 3))
		if err != nil {
			t.Fatal(err)
		}
		peek(3, gen3, false)
	})
}
