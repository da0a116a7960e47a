package store_test

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	"pubexport/operations/store"
)

// TestWithLegacy: records and request claims an earlier release kept in
// the old default location are still found, updated, listed and deleted
// through the new one, while new records go to the new location only.
func TestWithLegacy(t *testing.T) {
	ctx := t.Context()
	primary, legacy := localBackend(t)(), localBackend(t)()
	s := store.WithLegacy(primary, legacy)

	const oldName, newName = "organizations/acme/operations/old", "organizations/acme/operations/new"
	if _, err := legacy.Create(ctx, record(t, oldName, 1)); err != nil {
		t.Fatal(err)
	}
	if owner, err := legacy.ClaimRequest(ctx, "organizations/acme", "rid-old", oldName); err != nil || owner != oldName {
		t.Fatal(owner, err)
	}
	if _, err := s.Create(ctx, record(t, newName, 0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := legacy.Get(ctx, newName); err == nil {
		t.Error("a new record went to the legacy store")
	}

	names, err := s.List(ctx, "organizations/acme")
	if err != nil || !slices.Equal(names, []string{newName, oldName}) {
		t.Errorf("List = %v, %v", names, err)
	}
	rec, gen, err := s.Get(ctx, oldName)
	if err != nil {
		t.Fatal(err)
	}
	rec.Attempts = 2
	if _, err := s.Update(ctx, rec, gen); err != nil {
		t.Fatalf("updating a legacy record: %v", err)
	}
	if got, _, _ := legacy.Get(ctx, oldName); got.GetAttempts() != 2 {
		t.Errorf("the update did not reach the legacy store: %v", got)
	}

	// A retried request finds the operation it started before the move.
	if owner, err := s.ClaimRequest(ctx, "organizations/acme", "rid-old", "organizations/acme/operations/retry"); err != nil || owner != oldName {
		t.Errorf("ClaimRequest of a legacy claim = %q, %v; want %q", owner, err, oldName)
	}
	// A new request is claimed in the new store only.
	if owner, err := s.ClaimRequest(ctx, "organizations/acme", "rid-new", newName); err != nil || owner != newName {
		t.Errorf("ClaimRequest = %q, %v", owner, err)
	}
	if owner, _ := legacy.ClaimRequest(ctx, "organizations/acme", "rid-new", "organizations/acme/operations/probe"); owner != "organizations/acme/operations/probe" {
		t.Errorf("the legacy store kept a claim for a new request: %q", owner)
	}

	if err := s.Delete(ctx, oldName); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Get(ctx, oldName)
	wantCode(t, err, codes.NotFound)
}
