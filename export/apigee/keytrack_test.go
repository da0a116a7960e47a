package apigee

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

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
	var key KeySeed
	msg := make([]byte, 64)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range msg {
		msg[i] = byte(i)
	}
	s := &keySet{}
	s.setSeed(key)
	for n, w := range want {
		if got := sipHash(s.k0, s.k1, string(msg[:n])); got != w {
			t.Errorf("SipHash-2-4 of %d bytes = %#016x, want %#016x", n, got, w)
		}
	}
}

// TestKeySetLoad rebuilds a set from the hashes another set took, in
// chunks with repeats, as a resumed listing does from its checkpoint.
func TestKeySetLoad(t *testing.T) {
	seed := NewKeySeed()
	a := &keySet{track: true}
	a.setSeed(seed)
	const n = 20 * keyBuckets
	for i := range n {
		a.add(fmt.Sprintf("app-%d", i))
	}
	a.add("app-7") // not new: not taken again
	hashes := a.takeFresh()
	if len(hashes) != n || a.takeFresh() != nil {
		t.Fatalf("took %d hashes, want %d, then none", len(hashes), n)
	}
	b := &keySet{}
	b.setSeed(seed)
	b.load(hashes[:n/2])
	b.load(hashes[n/3:]) // a repeat of hashes loaded already
	if b.add("app-0") || b.add(fmt.Sprintf("app-%d", n-1)) || !b.has("app-12345") {
		t.Fatal("a loaded key counts as new")
	}
	if !b.add("app-new") {
		t.Fatal("a key never added counts as seen")
	}
	total := 0
	for i, bk := range b.buckets {
		if !slices.IsSorted(bk) || len(slices.Compact(slices.Clone(bk))) != len(bk) {
			t.Fatalf("bucket %d is not sorted and unique", i)
		}
		total += len(bk)
	}
	if total != n+1 {
		t.Fatalf("buckets hold %d hashes, want %d", total, n+1)
	}
}

// appsListedTwice is an apps list in which the first approved app is also
// listed, revoked, at the end of the revoked pass, as when it is revoked
// while an export runs.
func appsListedTwice() (served, unique []proto.Message) {
	unique = genRecords(Apps, 40, 13)
	var first *apigeepb.App
	for _, m := range unique {
		if a := m.(*apigeepb.App); a.GetStatus() == "approved" {
			first = a
			break
		}
	}
	again := proto.CloneOf(first)
	again.Status = proto.String("revoked")
	return append(slices.Clone(unique), again), unique
}

// TestListTrackKeysAcrossResume interrupts a listing after every page,
// keeping the hashes TakeNewKeys gives after each Next, and resumes it from
// the page's cursor with the same seed and those hashes: the two listings
// together must deliver each record once, the twice-listed app counted as
// one duplicate, whatever the resume point. Listings resumed without the
// hashes deliver that app twice for some resume points, which the test
// checks too, so that it proves something.
func TestListTrackKeysAcrossResume(t *testing.T) {
	served, unique := appsListedTwice()
	f := newFakeAPI(t, map[Resource][]proto.Message{Apps: served})
	c := f.client(t, WithPageSize(4))
	seed := NewKeySeed()
	s := &keySet{}
	s.setSeed(seed)

	a := c.List("acme", Apps, Cursor{})
	a.TrackKeys(seed)
	pages := drain(t, a)
	if len(pages) < 8 {
		t.Fatalf("only %d pages: the test needs many resume points", len(pages))
	}
	checkExactly(t, Apps, pages, unique)

	// Each page's hashes, taken after its Next with a request ahead in
	// flight, are exactly those of its records.
	b := c.List("acme", Apps, Cursor{})
	b.TrackKeys(seed)
	var taken [][]uint64
	for range pages {
		p, err := b.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for _, m := range p.Records {
			want = append(want, sipHash(s.k0, s.k1, Apps.Key(m)))
		}
		got := b.TakeNewKeys()
		if !slices.Equal(got, want) {
			t.Fatalf("page %d: took %d hashes, want the %d of its records", p.Number, len(got), len(want))
		}
		taken = append(taken, got)
	}

	twice := 0
	for i, p := range pages[:len(pages)-1] {
		js, err := json.Marshal(p.Next)
		if err != nil {
			t.Fatal(err)
		}
		var cur Cursor
		if err := json.Unmarshal(js, &cur); err != nil {
			t.Fatal(err)
		}
		before := slices.Clone(pages[:i+1])
		dups := 0
		for _, q := range before {
			dups += q.Duplicates
		}

		r := c.List("acme", Apps, cur)
		r.TrackKeys(seed)
		for _, h := range taken[:i+1] {
			r.Seen(h)
		}
		rest := drain(t, r)
		checkExactly(t, Apps, append(before, rest...), unique)
		for _, q := range rest {
			dups += q.Duplicates
		}
		if dups != 1 {
			t.Fatalf("resumed after page %d: %d duplicates counted, want 1", i+1, dups)
		}

		n := len(unique)
		for _, q := range append(before, drain(t, c.List("acme", Apps, cur))...) {
			n -= len(q.Records)
		}
		if n < 0 {
			twice++
		}
	}
	if twice == 0 {
		t.Fatal("no resume point delivers the app twice without the hashes: the test proves nothing")
	}
}

// TestListTrackKeysAfterNext: hashes made under one seed cannot be compared
// with another's, so TrackKeys once keys were hashed fails the listing.
func TestListTrackKeysAfterNext(t *testing.T) {
	recs := genRecords(Developers, 10, 3)
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	l := f.client(t, WithPageSize(4)).List("acme", Developers, Cursor{})
	if _, err := l.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.TrackKeys(NewKeySeed())
	if _, err := l.Next(context.Background()); status.Code(err) != codes.Internal {
		t.Fatalf("Next after a late TrackKeys returned %v, want INTERNAL", err)
	}
}

// BenchmarkKeySetLoad rebuilds a set of a million hashes from the parts of
// a checkpoint (10,000 hashes each), as a resumed listing does.
func BenchmarkKeySetLoad(b *testing.B) {
	seed := NewKeySeed()
	src := &keySet{track: true}
	src.setSeed(seed)
	for i := range 1 << 20 {
		src.add(fmt.Sprintf("developer-%d@example.com", i))
	}
	hashes := src.takeFresh()
	for b.Loop() {
		s := &keySet{}
		s.setSeed(seed)
		for part := range slices.Chunk(hashes, 10_000) {
			s.load(part)
		}
		s.has("x")
	}
	b.ReportMetric(float64(len(hashes))*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
