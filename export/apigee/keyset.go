package apigee

import (
	"crypto/rand"
	"encoding/binary"
	"slices"
)

// keyBuckets splits a keySet by the top 12 bits of each hash, so that every
// bucket stays short: a lookup is a binary search within a few hundred
// entries (a cache miss or two) and an insertion moves a few hundred bytes.
const keyBuckets = 1 << 12

// KeySeed keys the hash under which a listing remembers the records it
// delivered. It is random per export and kept in the export's checkpoints:
// a listing resumed with the same seed and the hashes the interrupted one
// delivered (see Lister.TrackKeys) recognises the records that listing
// exported, so a record the API returns again after the resume point is
// exported once, as in a run that never stopped.
type KeySeed [16]byte

// NewKeySeed returns a random seed.
func NewKeySeed() KeySeed {
	var s KeySeed
	rand.Read(s[:]) // never fails (crypto/rand since Go 1.24)
	return s
}

// keySet remembers the keys a listing has delivered, as 64-bit hashes, so
// that a record the API returns twice is exported once. It is the one part
// of a listing that grows with the organization, so it is kept compact: 8
// bytes a record in sorted buckets (about 11 MB for a million records with
// the buckets' spare capacity, where a map takes two to three times that and
// doubles while it grows). Two different keys collide with probability about
// n²/2⁶⁵ (one in 36 million for a million records); the hash is keyed by a
// seed that is random per export, so a collision does not repeat on the
// next export.
type keySet struct {
	k0, k1  uint64
	buckets [keyBuckets][]uint64 // each sorted ascending, unless unsorted
	// unsorted says that load appended hashes without sorting; the buckets
	// are sorted (and repeats removed) once, before the next lookup.
	unsorted bool
	// fresh, when tracking, holds the hashes added since takeFresh.
	fresh []uint64
	track bool
}

func newKeySet() *keySet {
	s := &keySet{}
	s.setSeed(NewKeySeed())
	return s
}

func (s *keySet) setSeed(seed KeySeed) {
	s.k0 = binary.LittleEndian.Uint64(seed[:8])
	s.k1 = binary.LittleEndian.Uint64(seed[8:])
}

// empty reports whether no key or hash was recorded.
func (s *keySet) empty() bool {
	for i := range s.buckets {
		if len(s.buckets[i]) > 0 {
			return false
		}
	}
	return true
}

// add records key and reports whether it was new.
func (s *keySet) add(key string) bool {
	if s.unsorted {
		s.sort()
	}
	h := sipHash(s.k0, s.k1, key)
	b := &s.buckets[h>>52]
	i, found := slices.BinarySearch(*b, h)
	if found {
		return false
	}
	*b = slices.Insert(*b, i, h)
	if s.track {
		s.fresh = append(s.fresh, h)
	}
	return true
}

// has reports whether key was recorded, without recording it.
func (s *keySet) has(key string) bool {
	if s.unsorted {
		s.sort()
	}
	h := sipHash(s.k0, s.k1, key)
	_, found := slices.BinarySearch(s.buckets[h>>52], h)
	return found
}

// load records hashes made under this set's seed. It appends them unsorted,
// so that loading n hashes a part at a time costs one sort of each bucket
// rather than an insertion per hash.
func (s *keySet) load(hashes []uint64) {
	for _, h := range hashes {
		s.buckets[h>>52] = append(s.buckets[h>>52], h)
	}
	s.unsorted = s.unsorted || len(hashes) > 0
}

func (s *keySet) sort() {
	for i := range s.buckets {
		slices.Sort(s.buckets[i])
		s.buckets[i] = slices.Compact(s.buckets[i])
	}
	s.unsorted = false
}

// takeFresh returns the hashes added since the last call, in the order they
// were added, and forgets them.
func (s *keySet) takeFresh() []uint64 {
	f := s.fresh
	s.fresh = nil
	return f
}
