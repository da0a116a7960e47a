package store

import (
	"context"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/operations/operationspb"
)

// WithLegacy is a store that keeps new records in primary and still finds,
// updates, lists and deletes the records (and request claims) an earlier
// release kept in legacy: the default store of a gs:// destination moved
// from DESTINATION/.pubexport/operations to gs://BUCKET/.pubexport/operations,
// out of the data's prefix, and an operation recorded before the move (a
// Cloud Run task retried across an upgrade, a suspended run) must still be
// found and resumed.
func WithLegacy(primary, legacy Store) Store {
	return &withLegacy{primary: primary, legacy: legacy, old: map[string]bool{}}
}

type withLegacy struct {
	primary, legacy Store
	mu              sync.Mutex
	old             map[string]bool // names found in legacy
}

func (s *withLegacy) isOld(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.old[name]
}

func (s *withLegacy) Get(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error) {
	return s.get(ctx, name, func(ctx context.Context, st Store, name string) (*operationspb.OperationRecord, int64, error) {
		return st.Get(ctx, name)
	})
}

// Peek is Get with each store's Peek (or its Get when it has none).
func (s *withLegacy) Peek(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error) {
	return s.get(ctx, name, Peek)
}

// get finds name with read, in primary first.
func (s *withLegacy) get(ctx context.Context, name string, read func(context.Context, Store, string) (*operationspb.OperationRecord, int64, error)) (*operationspb.OperationRecord, int64, error) {
	rec, gen, err := read(ctx, s.primary, name)
	if status.Code(err) != codes.NotFound {
		return rec, gen, err
	}
	lrec, lgen, lerr := read(ctx, s.legacy, name)
	if lerr != nil {
		return nil, 0, err // the primary's NOT_FOUND (or the legacy store's failure would hide it)
	}
	s.mu.Lock()
	s.old[name] = true
	s.mu.Unlock()
	return lrec, lgen, nil
}

func (s *withLegacy) Create(ctx context.Context, rec *operationspb.OperationRecord) (int64, error) {
	return s.primary.Create(ctx, rec)
}

func (s *withLegacy) Update(ctx context.Context, rec *operationspb.OperationRecord, generation int64) (int64, error) {
	name, err := RecordName(rec)
	if err != nil {
		return 0, err
	}
	if s.isOld(name) {
		return s.legacy.Update(ctx, rec, generation)
	}
	return s.primary.Update(ctx, rec, generation)
}

func (s *withLegacy) Delete(ctx context.Context, name string) error {
	err := s.primary.Delete(ctx, name)
	if status.Code(err) == codes.NotFound {
		return s.legacy.Delete(ctx, name)
	}
	return err
}

func (s *withLegacy) List(ctx context.Context, parent string) ([]string, error) {
	names, err := s.primary.List(ctx, parent)
	if err != nil {
		return nil, err
	}
	old, err := s.legacy.List(ctx, parent)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, n := range old {
		if !slices.Contains(names, n) {
			s.old[n] = true
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	return names, nil
}

// ClaimRequest claims in primary; a claim that only the legacy store holds
// (made before the move) still wins, so that a retried request finds the
// operation it started then.
func (s *withLegacy) ClaimRequest(ctx context.Context, parent, requestID, name string) (string, error) {
	owner, err := s.primary.ClaimRequest(ctx, parent, requestID, name)
	if err != nil || owner != name {
		return owner, err
	}
	// The legacy store has no read-only lookup of claims: claim there too
	// and take the claim back if it was ours.
	lowner, err := s.legacy.ClaimRequest(ctx, parent, requestID, name)
	if err != nil {
		return "", err
	}
	if lowner == name {
		return name, s.legacy.ReleaseRequest(ctx, parent, requestID, name)
	}
	if err := s.primary.ReleaseRequest(ctx, parent, requestID, name); err != nil {
		return "", err
	}
	return lowner, nil
}

func (s *withLegacy) ReleaseRequest(ctx context.Context, parent, requestID, name string) error {
	if err := s.primary.ReleaseRequest(ctx, parent, requestID, name); err != nil {
		return err
	}
	return s.legacy.ReleaseRequest(ctx, parent, requestID, name)
}
