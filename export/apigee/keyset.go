package apigee

import "hash/maphash"

// keySet remembers the keys a listing has delivered, as 64-bit hashes: 8
// bytes a record instead of the key itself, so that a listing of millions
// stays small. Two different keys collide with probability about n²/2⁶⁵
// (one in 36 million for a million records); the seed is random per
// listing, so a collision does not repeat on the next run.
type keySet struct {
	seed maphash.Seed
	seen map[uint64]struct{}
}

func newKeySet() *keySet {
	return &keySet{seed: maphash.MakeSeed(), seen: make(map[uint64]struct{})}
}

// add records key and reports whether it was new.
func (s *keySet) add(key string) bool {
	h := maphash.String(s.seed, key)
	if _, ok := s.seen[h]; ok {
		return false
	}
	s.seen[h] = struct{}{}
	return true
}
