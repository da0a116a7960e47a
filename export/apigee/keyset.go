package apigee

import (
	"hash/maphash"
	"slices"
)

// keyBuckets splits a keySet by the top 12 bits of each hash, so that every
// bucket stays short: a lookup is a binary search within a few hundred
// entries (a cache miss or two) and an insertion moves a few hundred bytes.
const keyBuckets = 1 << 12

// keySet remembers the keys a listing has delivered, as 64-bit hashes, so
// that a record the API returns twice is exported once. It is the one part
// of a listing that grows with the organization, so it is kept compact: 8
// bytes a record in sorted buckets (about 11 MB for a million records with
// the buckets' spare capacity, where a map takes two to three times that and
// doubles while it grows). Two different keys collide with probability about
// n²/2⁶⁵ (one in 36 million for a million records); the seed is random per
// listing, so a collision does not repeat on the next run.
type keySet struct {
	seed    maphash.Seed
	buckets [keyBuckets][]uint64 // each sorted ascending
}

func newKeySet() *keySet {
	return &keySet{seed: maphash.MakeSeed()}
}

// add records key and reports whether it was new.
func (s *keySet) add(key string) bool {
	h := maphash.String(s.seed, key)
	b := &s.buckets[h>>52]
	i, found := slices.BinarySearch(*b, h)
	if found {
		return false
	}
	*b = slices.Insert(*b, i, h)
	return true
}

// has reports whether key was recorded, without recording it.
func (s *keySet) has(key string) bool {
	h := maphash.String(s.seed, key)
	_, found := slices.BinarySearch(s.buckets[h>>52], h)
	return found
}
