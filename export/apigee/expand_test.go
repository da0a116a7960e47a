package apigee

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// TestListUnexpandedDevelopers: a developers list answered in the
// expand=false shape (emails only) with count and without it fails with
// FAILED_PRECONDITION naming the cause and the missing list-then-get path,
// and returns no page, so nothing incomplete reaches an export.
func TestListUnexpandedDevelopers(t *testing.T) {
	recs := genRecords(Developers, 5, 3)
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	f.unexpanded = true
	l := f.client(t, WithPageSize(2)).List("acme", Developers, Cursor{})
	p, err := l.Next(t.Context())
	if err == nil {
		t.Fatalf("page %d with %d records returned, want an error before any page", p.Number, len(p.Records))
	}
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("got %v (%v), want FAILED_PRECONDITION", status.Code(err), err)
	}
	for _, want := range []string{"unexpanded developers", "expand=true", "list-then-get", "not implemented", "page 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The first page, with count, then without; a request for page 2 may
	// have gone ahead before page 1 was decoded (and been dropped).
	var first []string
	for _, r := range f.log() {
		if q := r.URL.Query(); !q.Has("startKey") {
			if q.Get("expand") != "true" {
				t.Fatalf("request %s without expand=true", r.URL)
			}
			first = append(first, q.Get("count"))
		}
	}
	if len(first) != 2 || first[0] != "2" || first[1] != "" {
		t.Fatalf("first page asked for with counts %q, want with count 2, then without", first)
	}
}

// TestListSparseDeveloper: a developer with nothing but an email, on a page
// where other developers have more, is exported as it is.
func TestListSparseDeveloper(t *testing.T) {
	recs := genRecords(Developers, 5, 4)
	recs[2] = &apigeepb.Developer{Email: proto.String("only-email@example.com")}
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	checkExactly(t, Developers, drain(t, f.client(t, WithPageSize(3)).List("acme", Developers, Cursor{})), recs)
}

func TestKeyOnly(t *testing.T) {
	dev := func(email string, first string) proto.Message {
		d := &apigeepb.Developer{}
		if email != "" {
			d.Email = proto.String(email)
		}
		if first != "" {
			d.FirstName = proto.String(first)
		}
		return d
	}
	cases := []struct {
		name string
		recs []proto.Message
		want bool
	}{
		{"empty page", nil, false},
		{"emails only", []proto.Message{dev("a@x", ""), dev("b@x", "")}, true},
		{"one developer with more", []proto.Message{dev("a@x", ""), dev("b@x", "B"), dev("c@x", "")}, false},
		{"no email", []proto.Message{dev("", "")}, false},
		{"empty email set", []proto.Message{&apigeepb.Developer{Email: proto.String("")}}, true},
		{"name but no email", []proto.Message{dev("", "A")}, false},
	}
	for _, c := range cases {
		if got := keyOnly(Developers, c.recs); got != c.want {
			t.Errorf("%s: keyOnly = %v, want %v", c.name, got, c.want)
		}
	}
}
