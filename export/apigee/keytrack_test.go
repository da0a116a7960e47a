package apigee

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/internal/keyset"
)

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
	s := &keyset.Set{}
	s.SetSeed(seed)

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
			want = append(want, s.Hash(Apps.Key(m)))
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
