package keyset

import (
	"fmt"
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
