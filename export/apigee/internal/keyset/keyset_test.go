package keyset

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
)

// TestKeySet adds keys enough to fill every bucket, each key twice, and
// checks that every key is new exactly once, is found afterwards, and that
// the buckets stay sorted and hold one hash per key.
func TestKeySet(t *testing.T) {
	s := New()
	const n = 50*keyBuckets + 123
	for round := range 2 {
		for i := range n {
			k := fmt.Sprintf("dev-%d@example.com", i)
			if got := s.Add(k); got != (round == 0) {
				t.Fatalf("round %d: Add(%q) = %v", round, k, got)
			}
		}
	}
	for i := range n {
		if k := fmt.Sprintf("dev-%d@example.com", i); !s.Has(k) {
			t.Fatalf("Has(%q) = false after add", k)
		}
	}
	if s.Has("never-added@example.com") {
		t.Fatal("Has reports a key that was never added")
	}
	checkSet(t, s, n)
}

// checkSet checks a set's layout: the big array's bucket starts in order,
// its entries sorted within each bucket (so its hashes are sorted and
// unique), the small buckets sorted, no hash twice, n in all.
func checkSet(t *testing.T, s *Set, n int) {
	t.Helper()
	big := s.big.hashes(t)
	total := len(big)
	for i, bk := range s.small {
		if !slices.IsSorted(bk) || len(slices.Compact(slices.Clone(bk))) != len(bk) {
			t.Fatalf("small bucket %d is not sorted and unique", i)
		}
		for _, h := range bk {
			if _, found := slices.BinarySearch(big, h); found || h>>52 != uint64(i) {
				t.Fatalf("hash %x of small bucket %d is in the big array or the wrong bucket", h, i)
			}
		}
		total += len(bk)
	}
	if total != n {
		t.Fatalf("the set holds %d hashes, want %d", total, n)
	}
	runtime.KeepAlive(s) // big is in s's mapping, unmapped when s is collected
}

// hashes checks the array's layout and returns its whole hashes in order.
func (a *sorted) hashes(t *testing.T) []uint64 {
	t.Helper()
	if a == nil {
		return nil
	}
	all := make([]uint64, 0, a.len())
	for b := range bigBuckets {
		lo, hi := int(a.start[b]), int(a.start[b+1])
		if lo > hi || hi > a.len() || (b == 0 && lo != 0) {
			t.Fatalf("bucket %d runs from %d to %d of %d entries", b, lo, hi, a.len())
		}
		for i := lo; i < hi; i++ {
			h := hashOf(b, a.low(i))
			if i > lo && h <= all[len(all)-1] {
				t.Fatalf("entries %d and %d of bucket %d are out of order", i-1, i, b)
			}
			all = append(all, h)
		}
	}
	return all
}

func BenchmarkKeySetAdd(b *testing.B) {
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = fmt.Sprintf("developer-%d@example.com", i)
	}
	b.ResetTimer()
	for b.Loop() {
		s := New()
		for _, k := range keys {
			s.Add(k)
		}
	}
	b.ReportMetric(float64(len(keys))*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// TestSipHashVectors checks sipHash against the reference test vectors of
// SipHash-2-4 (key 00 01 .. 0f, message 00 01 .. of each length), which
// cover an empty message, tails of every length and full blocks.
func TestSipHashVectors(t *testing.T) {
	want := map[int]uint64{
		0: 0x726fdb47dd0e0e31, 1: 0x74f839c593dc67fd, 2: 0x0d6c8009d9a94f5a, 3: 0x85676696d7fb7e2d,
		4: 0xcf2794e0277187b7, 5: 0x18765564cd99a68d, 6: 0xcbc9466e58fee3ce, 7: 0xab0200f58b01d137,
		8: 0x93f5f5799a932462, 9: 0x9e0082df0ba9e4b0, 10: 0x7a5dbbc594ddb9f3, 11: 0xf4b32f46226bada7,
		12: 0x751e8fbc860ee5fb, 13: 0x14ea5627c0843d90, 14: 0xf723ca908e7af2ee, 15: 0xa129ca6149be45e5,
		16: 0x3f2acc7f57c29bdb, 63: 0x958a324ceb064572,
	}
	var key Seed
	msg := make([]byte, 64)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range msg {
		msg[i] = byte(i)
	}
	s := &Set{}
	s.SetSeed(key)
	for n, w := range want {
		if got := sipHash(s.k0, s.k1, string(msg[:n])); got != w {
			t.Errorf("SipHash-2-4 of %d bytes = %#016x, want %#016x", n, got, w)
		}
	}
}

// TestKeySetLoad rebuilds a set from the hashes another set took, in
// chunks with repeats, as a resumed listing does from its checkpoint.
func TestKeySetLoad(t *testing.T) {
	seed := NewSeed()
	a := &Set{track: true}
	a.SetSeed(seed)
	const n = 20 * keyBuckets
	for i := range n {
		a.Add(fmt.Sprintf("app-%d", i))
	}
	a.Add("app-7") // not new: not taken again
	hashes := a.TakeFresh()
	if len(hashes) != n || a.TakeFresh() != nil {
		t.Fatalf("took %d hashes, want %d, then none", len(hashes), n)
	}
	b := &Set{}
	b.SetSeed(seed)
	b.Load(hashes[:n/2])
	b.Load(hashes[n/3:]) // a repeat of hashes loaded already
	if b.Add("app-0") || b.Add(fmt.Sprintf("app-%d", n-1)) || !b.Has("app-12345") {
		t.Fatal("a loaded key counts as new")
	}
	if !b.Add("app-new") {
		t.Fatal("a key never added counts as seen")
	}
	checkSet(t, b, n+1)
}

// BenchmarkKeySetLoad rebuilds a set of a million hashes from the parts of
// a checkpoint (10,000 hashes each), as a resumed listing does.
func BenchmarkKeySetLoad(b *testing.B) {
	seed := NewSeed()
	src := &Set{track: true}
	src.SetSeed(seed)
	for i := range 1 << 20 {
		src.Add(fmt.Sprintf("developer-%d@example.com", i))
	}
	hashes := src.TakeFresh()
	for b.Loop() {
		s := &Set{}
		s.SetSeed(seed)
		for part := range slices.Chunk(hashes, 10_000) {
			s.Load(part)
		}
		s.Has("x")
	}
	b.ReportMetric(float64(len(hashes))*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// TestLen counts distinct keys and loaded hashes, repeats once, across a
// merge into the big array.
func TestLen(t *testing.T) {
	s := New()
	for i := range minBatch + 10 {
		s.Add(fmt.Sprint(i))
	}
	s.Add("0")
	s.Load([]uint64{s.Hash("1"), s.Hash("new"), s.Hash("new")})
	if n := s.Len(); n != minBatch+11 {
		t.Fatalf("Len %d, want %d", n, minBatch+11)
	}
}
