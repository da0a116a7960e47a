// Package keyset remembers which record keys a listing has delivered, as
// keyed 64-bit hashes, compactly enough for millions of records, and with a
// key (Seed) that can be saved so that a resumed listing hashes as the
// interrupted one did.
package keyset

import (
	"crypto/rand"
	"encoding/binary"
	"slices"
)

// keyBuckets splits a Set by the top 12 bits of each hash, so that every
// bucket stays short: a lookup is a binary search within a few hundred
// entries (a cache miss or two) and an insertion moves a few hundred bytes.
const keyBuckets = 1 << 12

// Seed keys the hash under which a listing remembers the records it
// delivered. It is random per export and kept in the export's checkpoints:
// a listing resumed with the same seed and the hashes the interrupted one
// delivered recognises the records that listing
// exported, so a record the API returns again after the resume point is
// exported once, as in a run that never stopped.
type Seed [16]byte

// NewSeed returns a random seed.
func NewSeed() Seed {
	var s Seed
	rand.Read(s[:]) // never fails (crypto/rand since Go 1.24)
	return s
}

// Set remembers the keys a listing has delivered, as 64-bit hashes, so
// that a record the API returns twice is exported once. It is the one part
// of a listing that grows with the organization, so it is kept compact: 8
// bytes a record in sorted buckets (about 11 MB for a million records with
// the buckets' spare capacity, where a map takes two to three times that and
// doubles while it grows). Two different keys collide with probability about
// n²/2⁶⁵ (one in 36 million for a million records); the hash is keyed by a
// seed that is random per export, so a collision does not repeat on the
// next export.
// The zero Set hashes under the all-zero seed; New gives a random one.
type Set struct {
	k0, k1  uint64
	buckets [keyBuckets][]uint64 // each sorted ascending, unless unsorted
	// unsorted says that load appended hashes without sorting; the buckets
	// are sorted (and repeats removed) once, before the next lookup.
	unsorted bool
	// fresh, when tracking, holds the hashes added since takeFresh.
	fresh []uint64
	track bool
}

// New returns an empty set under a random seed.
func New() *Set {
	s := &Set{}
	s.SetSeed(NewSeed())
	return s
}

// SetSeed makes the set hash under seed. Hashes made under different seeds
// cannot be compared: set it before the first Add or Load.
func (s *Set) SetSeed(seed Seed) {
	s.k0 = binary.LittleEndian.Uint64(seed[:8])
	s.k1 = binary.LittleEndian.Uint64(seed[8:])
}

// Empty reports whether no key or hash was recorded.
func (s *Set) Empty() bool {
	for i := range s.buckets {
		if len(s.buckets[i]) > 0 {
			return false
		}
	}
	return true
}

// Add records key and reports whether it was new.
func (s *Set) Add(key string) bool {
	if s.unsorted {
		s.sort()
	}
	h := s.Hash(key)
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

// Has reports whether key was recorded, without recording it.
func (s *Set) Has(key string) bool {
	if s.unsorted {
		s.sort()
	}
	h := s.Hash(key)
	_, found := slices.BinarySearch(s.buckets[h>>52], h)
	return found
}

// Load records hashes made under this set's seed. It appends them unsorted,
// so that loading n hashes a part at a time costs one sort of each bucket
// rather than an insertion per hash.
func (s *Set) Load(hashes []uint64) {
	for _, h := range hashes {
		s.buckets[h>>52] = append(s.buckets[h>>52], h)
	}
	s.unsorted = s.unsorted || len(hashes) > 0
}

// Hash is the hash under which the set records key: SipHash-2-4 of key
// under the set's seed.
func (s *Set) Hash(key string) uint64 { return sipHash(s.k0, s.k1, key) }

func (s *Set) sort() {
	for i := range s.buckets {
		slices.Sort(s.buckets[i])
		s.buckets[i] = slices.Compact(s.buckets[i])
	}
	s.unsorted = false
}

// Track makes the set keep the hash of every key Add records from now on,
// for TakeFresh: the caller stores them so that a later set can Load them.
func (s *Set) Track() { s.track = true }

// TakeFresh returns the hashes added since the last call (nil without
// Track), in the order they were added, and forgets them.
func (s *Set) TakeFresh() []uint64 {
	f := s.fresh
	s.fresh = nil
	return f
}

// FreshLen is how many hashes TakeFresh would return now; with TrimFresh it
// lets a caller undo the fresh hashes of work it then abandons.
func (s *Set) FreshLen() int { return len(s.fresh) }

// TrimFresh forgets, for TakeFresh, the hashes added after the first n
// fresh ones. The keys stay recorded in the set.
func (s *Set) TrimFresh(n int) { s.fresh = s.fresh[:n] }
