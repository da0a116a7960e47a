package store_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

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
