// Package keyset remembers which record keys a listing has delivered, as
// keyed 64-bit hashes, compactly enough for millions of records, and with a
// key (Seed) that can be saved so that a resumed listing hashes as the
// interrupted one did.
package keyset

import (
	"crypto/rand"
	"encoding/binary"
	"runtime"
	"slices"
)

// keyBuckets splits the hashes added since the last merge by their top 12
// bits, so that every bucket stays short: an insertion into a small bucket
// moves a few bytes.
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
// of a listing that grows with the organization, so it is kept compact and
// out of the garbage collector's way: the hashes live in one sorted array
// (see sorted), 6 bytes a record, outside the Go heap where the system
// allows it, so that they neither count towards the heap's growth target
// (which would double them) nor get scanned. New hashes collect in small
// sorted buckets on the heap and are merged into the array in batches.
//
// Two different keys collide with probability about n²/2⁶⁵ (one in 36
// million for a million records); the hash is keyed by a seed that is
// random per export, so a collision does not repeat on the next export.
// The zero Set hashes under the all-zero seed; New gives a random one. A
// Set must not be copied after first use.
type Set struct {
	_      noCopy
	k0, k1 uint64
	// big holds most hashes, sorted.
	big *sorted
	// small holds the hashes added since the last merge, each bucket
	// sorted ascending unless unsorted; smallLen counts them.
	small    [keyBuckets][]uint64
	smallLen int
	// unsorted says that Load appended hashes without sorting; the
	// buckets are sorted (and repeats removed) before the next lookup.
	unsorted bool
	// fresh, when tracking, holds the hashes added since takeFresh.
	fresh []uint64
	track bool
}

// noCopy makes go vet's copylocks check refuse a copied Set: a copy would
// share the array whose memory the original's cleanup gives back when the
// original is collected.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// A batch of new hashes is merged into the big array once it holds an
// eighth of the array, so that a merge moves O(1) hashes per new hash on
// average, but at least minBatch and at most maxBatch hashes: the heap
// holds at most 2 MiB of hashes however large the set grows.
const (
	minBatch = 1 << 14
	maxBatch = 1 << 18
)

// full reports whether the small buckets are due to be merged.
func (s *Set) full() bool {
	return s.smallLen >= min(max(minBatch, s.bigLen()/8), maxBatch)
}

// bigLen is how many hashes the big array holds.
func (s *Set) bigLen() int {
	if s.big == nil {
		return 0
	}
	return s.big.len()
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
func (s *Set) Empty() bool { return s.smallLen == 0 && s.bigLen() == 0 }

// Len is the number of distinct keys and hashes recorded.
func (s *Set) Len() int {
	if s.unsorted {
		s.sort()
	}
	return s.bigLen() + s.smallLen
}

// Add records key and reports whether it was new.
func (s *Set) Add(key string) bool {
	if s.unsorted {
		s.sort()
	}
	h := s.Hash(key)
	if s.inBig(h) {
		return false
	}
	b := &s.small[h>>52]
	i, found := slices.BinarySearch(*b, h)
	if found {
		return false
	}
	*b = slices.Insert(*b, i, h)
	s.smallLen++
	if s.track {
		s.fresh = append(s.fresh, h)
	}
	if s.full() {
		s.merge()
	}
	return true
}

// Has reports whether key was recorded, without recording it.
func (s *Set) Has(key string) bool {
	if s.unsorted {
		s.sort()
	}
	h := s.Hash(key)
	if s.inBig(h) {
		return true
	}
	_, found := slices.BinarySearch(s.small[h>>52], h)
	return found
}

// inBig reports whether h is in the big array.
func (s *Set) inBig(h uint64) bool {
	found := s.big != nil && s.big.has(h)
	// The array's memory is unmapped when s is collected (see merge): s
	// must stay reachable while it is read.
	runtime.KeepAlive(s)
	return found
}

// Load records hashes made under this set's seed. It appends them unsorted,
// so that loading n hashes a part at a time costs one sort of each bucket
// rather than an insertion per hash.
func (s *Set) Load(hashes []uint64) {
	for _, h := range hashes {
		s.small[h>>52] = append(s.small[h>>52], h)
	}
	s.smallLen += len(hashes)
	s.unsorted = s.unsorted || len(hashes) > 0
}

// Hash is the hash under which the set records key: SipHash-2-4 of key
// under the set's seed.
func (s *Set) Hash(key string) uint64 { return sipHash(s.k0, s.k1, key) }

// sort sorts the small buckets, drops repeats and the hashes the big array
// holds already, and merges when the batch is large enough.
func (s *Set) sort() {
	n := 0
	for i := range s.small {
		b := s.small[i]
		slices.Sort(b)
		b = slices.DeleteFunc(slices.Compact(b), s.inBig)
		s.small[i] = b
		n += len(b)
	}
	s.smallLen = n
	s.unsorted = false
	if s.full() {
		s.merge()
	}
}

// merge moves the small buckets into the big array (see sorted.merge).
// The small buckets hold no hash of the array (Add and sort see to that).
func (s *Set) merge() {
	if s.big == nil {
		s.big = newSorted()
		// The array's memory may be outside the Go heap: give it back
		// when the set is collected. Code that reads it keeps s alive
		// until it is done (runtime.KeepAlive).
		runtime.AddCleanup(s, func(a *sorted) { a.free() }, s.big)
	}
	s.big.merge(s.small[:], s.smallLen)
	for b := range s.small {
		s.small[b] = s.small[b][:0]
	}
	s.smallLen = 0
	runtime.KeepAlive(s) // the array is in s's mapping
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
