package keyset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestLoadAfterMerge loads hashes, some of them merged into the big array
// already, into a set that has one: repeats are dropped, new ones found.
func TestLoadAfterMerge(t *testing.T) {
	seed := NewSeed()
	a := &Set{track: true}
	a.SetSeed(seed)
	const n = 3 * minBatch
	for i := range n {
		a.Add(fmt.Sprintf("dev-%d", i))
	}
	hashes := a.TakeFresh()

	b := &Set{}
	b.SetSeed(seed)
	for i := range n / 2 {
		b.Add(fmt.Sprintf("dev-%d", i))
	}
	if b.big == nil {
		t.Fatal("no merge after adding more than a batch")
	}
	b.Load(hashes) // half of them known, in the array or the small buckets
	if b.Add("dev-0") || b.Add(fmt.Sprintf("dev-%d", n-1)) || !b.Has(fmt.Sprintf("dev-%d", n/2+7)) {
		t.Fatal("a loaded or added key counts as new")
	}
	if !b.Add("dev-new") {
		t.Fatal("a key never added counts as seen")
	}
	checkSet(t, b, n+1)
}

// TestSetStaysOffHeap checks that a set's hashes do not live on the Go heap
// (on Linux, where the package maps their memory itself): a heap copy would
// be counted twice by the garbage collector's growth target.
func TestSetStaysOffHeap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the hashes are on the Go heap on " + runtime.GOOS)
	}
	const n = 400_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := New()
	for i := range n {
		s.Add(fmt.Sprintf("developer-%d@example.com", i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if onHeap := int64(n * 8); grew > onHeap/2 {
		t.Errorf("the Go heap grew by %d bytes for %d hashes (%d bytes); want most of them outside it", grew, n, onHeap)
	}
	checkSet(t, s, n)
	runtime.KeepAlive(s)
}

// TestMergeExact merges batches of hashes spread over the whole range, with
// those at the edges of the array's buckets (the entries store 48 bits and
// the bucket the other 16), and checks membership against a map: every
// hash merged is found, with all its bits, and no other.
func TestMergeExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	want := map[uint64]bool{}
	s := &Set{}
	edges := []uint64{0, 1, lowMask, lowMask + 1, 1<<63 - 1, 1 << 63, math.MaxUint64, math.MaxUint64 - 1}
	for batch := range 6 {
		hashes := make([]uint64, 0, 40_000)
		for range cap(hashes) {
			h := r.Uint64()
			if batch%2 == 1 {
				// Neighbours of hashes merged before: the same bucket,
				// next to an existing entry.
				h = hashOf(r.IntN(bigBuckets), r.Uint64()&lowMask)
			}
			hashes = append(hashes, h)
		}
		hashes = append(hashes, edges[batch], edges[batch+2])
		for _, h := range hashes {
			want[h] = true
		}
		s.Load(hashes)
		s.Load(hashes[:100]) // repeats
		s.sort()
		s.merge()
	}
	checkSet(t, s, len(want))
	for h := range want {
		if !s.inBig(h) {
			t.Fatalf("hash %#x merged but not found", h)
		}
	}
	for range 100_000 {
		h := r.Uint64()
		if s.inBig(h) != want[h] {
			t.Fatalf("hash %#x found = %v, merged = %v", h, !want[h], want[h])
		}
		// The same low 48 bits in another bucket is another hash.
		if other := h ^ 1<<lowBits; s.inBig(other) != want[other] {
			t.Fatalf("hash %#x found = %v, merged = %v", other, !want[other], want[other])
		}
	}
	// 6 bytes a hash, in an array grown by at most doubling.
	if n, size := len(want), 4*len(s.big.lo)+2*len(s.big.hi); size > 2*entryBytes*n {
		t.Errorf("the array takes %d bytes for %d hashes, want at most %d", size, n, 2*entryBytes*n)
	}
	runtime.KeepAlive(s)
}
