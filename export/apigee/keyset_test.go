package apigee

import (
	"fmt"
	"slices"
	"testing"
)

// TestKeySet adds keys enough to fill every bucket, each key twice, and
// checks that every key is new exactly once, is found afterwards, and that
// the buckets stay sorted and hold one hash per key.
func TestKeySet(t *testing.T) {
	s := newKeySet()
	const n = 50*keyBuckets + 123
	for round := range 2 {
		for i := range n {
			k := fmt.Sprintf("dev-%d@example.com", i)
			if got := s.add(k); got != (round == 0) {
				t.Fatalf("round %d: add(%q) = %v", round, k, got)
			}
		}
	}
	for i := range n {
		if k := fmt.Sprintf("dev-%d@example.com", i); !s.has(k) {
			t.Fatalf("has(%q) = false after add", k)
		}
	}
	if s.has("never-added@example.com") {
		t.Fatal("has reports a key that was never added")
	}
	total := 0
	for i, b := range s.buckets {
		if !slices.IsSorted(b) {
			t.Fatalf("bucket %d is not sorted", i)
		}
		total += len(b)
	}
	if total != n {
		t.Fatalf("buckets hold %d hashes, want %d", total, n)
	}
}

func BenchmarkKeySetAdd(b *testing.B) {
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = fmt.Sprintf("developer-%d@example.com", i)
	}
	b.ResetTimer()
	for b.Loop() {
		s := newKeySet()
		for _, k := range keys {
			s.add(k)
		}
	}
	b.ReportMetric(float64(len(keys))*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
