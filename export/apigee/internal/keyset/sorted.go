package keyset

import "unsafe"

// The big array is split by the top 16 bits of each hash into bigBuckets
// buckets and stores of each hash only the low 48 bits, in entryBytes
// bytes: the top 16 are the number of the bucket the entry is in. A hash
// keeps all its 64 bits (two keys collide no more often) in 6 bytes
// instead of 8. The bucket index costs (bigBuckets+1)×4 bytes (256 KiB,
// once the first batch is merged), which the quarter saved on each hash
// pays back past about 130k hashes; at a million it saves 1.7 MiB. A
// bucket holds about n/65536 entries, so a lookup reads the index and one
// or two cache lines of entries. The entries are two arrays, the low 32
// bits and the 16 above them, so that each part is one aligned word (a
// packed 6-byte entry is six byte accesses, three times slower under the
// race detector).
const (
	bigBits    = 16
	bigBuckets = 1 << bigBits
	lowBits    = 64 - bigBits
	lowMask    = 1<<lowBits - 1
	entryBytes = lowBits / 8
)

// sorted is the growable array of a Set's merged hashes, sorted, with the
// index of where each bucket begins. Its memory comes from mapping
// (outside the Go heap where the system allows it) and grows by at least
// doubling, so a Set of n hashes has mapped at most 2n×6 bytes, of which
// only the n×6 written are resident.
type sorted struct {
	// lo and hi are the entries' low 32 bits and the 16 above them; their
	// length is the capacity.
	lo     []uint32
	hi     []uint16
	lm, hm mapping
	start  []uint32 // bigBuckets+1: start[b] is where bucket b begins, start[bigBuckets] the length
	sm     mapping
}

func newSorted() *sorted {
	a := &sorted{}
	a.start = view[uint32](a.sm.resize(4 * (bigBuckets + 1)))
	return a
}

// len is how many hashes the array holds.
func (a *sorted) len() int { return int(a.start[bigBuckets]) }

// low is entry i: the low 48 bits of its hash.
func (a *sorted) low(i int) uint64 { return uint64(a.hi[i])<<32 | uint64(a.lo[i]) }

// set writes x (48 bits) as entry i.
func (a *sorted) set(i int, x uint64) {
	a.lo[i] = uint32(x)
	a.hi[i] = uint16(x >> 32)
}

// has reports whether the array holds h.
func (a *sorted) has(h uint64) bool {
	b := h >> lowBits
	lo, end := int(a.start[b]), int(a.start[b+1])
	x := h & lowMask
	for hi := end; lo < hi; {
		m := int(uint(lo+hi) >> 1)
		if a.low(m) < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < end && a.low(lo) == x
}

// hashOf is the whole hash of an entry of bucket b whose low bits are low.
func hashOf(b int, low uint64) uint64 { return uint64(b)<<lowBits | low }

// grow makes room for n hashes, keeping the ones in the array.
func (a *sorted) grow(n int) {
	if n <= len(a.lo) {
		return
	}
	c := max(n, 2*len(a.lo), 1<<16)
	a.lo = view[uint32](a.lm.resize(4 * c))
	a.hi = view[uint16](a.hm.resize(2 * c))
}

// merge adds small, sorted hashes that the array does not hold, split by
// the top 12 bits of the hashes as a Set's small buckets are
// (small[i] holds the hashes whose top bits are i), to the array. It grows
// the array and merges from the back, so that no entry is moved twice and
// no second copy of the array is ever needed.
func (a *sorted) merge(small [][]uint64, m int) {
	n := a.len()
	a.grow(n + m)
	w, i := n+m, n
	a.start[bigBuckets] = uint32(n + m)
	per := bigBuckets / len(small) // big buckets per small bucket
	for sb := len(small) - 1; sb >= 0 && w > i; sb-- {
		s := small[sb]
		j := len(s)
		for b := sb*per + per - 1; b >= sb*per; b-- {
			lo := int(a.start[b])
			top := uint64(b) << lowBits
			for ; j > 0 && s[j-1] >= top; j-- {
				// The old entries above the new one move up past it.
				x := s[j-1] & lowMask
				k := i
				for k > lo && a.low(k-1) > x {
					k--
				}
				a.move(k, i, w-i)
				w -= i - k
				i = k
				w--
				a.set(w, x)
			}
			// The rest of bucket b's old entries move up by the hashes
			// still to come (w-i), which go below them.
			a.move(lo, i, w-i)
			w -= i - lo
			i = lo
			a.start[b] = uint32(w)
			if w == i {
				// Every new hash is placed: the entries and starts
				// below are where they were.
				return
			}
		}
	}
}

// move moves entries [from, to) up by d places (copy's memmove, which
// the race detector checks as one range rather than entry by entry).
func (a *sorted) move(from, to, d int) {
	if d == 0 || from == to {
		return
	}
	copy(a.lo[from+d:to+d], a.lo[from:to])
	copy(a.hi[from+d:to+d], a.hi[from:to])
}

// free gives the array's memory back.
func (a *sorted) free() {
	a.lm.free()
	a.hm.free()
	a.sm.free()
	a.lo, a.hi, a.start = nil, nil, nil
}

// view is b, which mapping returns aligned (a page, or a heap block of at
// least 8 bytes), as a slice of T.
func view[T uint16 | uint32](b []byte) []T {
	var t T
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/int(unsafe.Sizeof(t)))
}
