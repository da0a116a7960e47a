package apigee

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// TestListUnexpandedDevelopers: a developers list answered in the
// expand=false shape (emails only) with count and without it is listed the
// documented way instead: emails paged with expand=false, count and
// startKey, then developers.get for each. Every developer arrives whole,
// once, in the list's order; no email-only record is returned; a warning
// counts the developers read one by one.
func TestListUnexpandedDevelopers(t *testing.T) {
	recs := genRecords(Developers, 5, 3)
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	f.unexpanded = true
	l := f.client(t, WithPageSize(2)).List("acme", Developers, Cursor{})
	pages := drain(t, l)
	checkExactly(t, Developers, pages, recs)
	var order []string
	var ws []Warning
	for _, p := range pages {
		for _, m := range p.Records {
			order = append(order, Developers.Key(m))
		}
		ws = MergeWarnings(ws, p.Warnings)
	}
	for i, m := range recs {
		if order[i] != Developers.Key(m) {
			t.Fatalf("developer %d is %q, want %q: the list's order", i, order[i], Developers.Key(m))
		}
	}
	var gets int64
	for _, w := range ws {
		if w.Text == listThenGetWarning {
			gets = w.Count
		}
	}
	if gets != 5 {
		t.Errorf("warnings %v count %d developers read one by one, want 5", ws, gets)
	}
	// The first page with count and expand, without count, then emails
	// with count.
	var first []string
	got := 0
	for _, r := range f.log() {
		q := r.URL.Query()
		switch {
		case strings.Contains(r.URL.Path, "/developers/"):
			got++
		case !q.Has("startKey"):
			first = append(first, q.Get("expand")+"/"+q.Get("count"))
		case q.Get("expand") == "true" && q.Get("count") == "2":
			// Page 2 asked for ahead, before page 1 was decoded and
			// found unexpanded (dropped).
		case q.Get("expand") != "false" || q.Get("count") != "2":
			t.Errorf("follow-up page %s, want expand=false&count=2", r.URL)
		}
	}
	if strings.Join(first, " ") != "true/2 true/ false/2" {
		t.Fatalf("first page asked for as %q (expand/count), want true/2, true/ (no count), false/2", first)
	}
	if got != 5 {
		t.Errorf("%d developers.get calls, want 5", got)
	}
}

// TestListThenGetErrors: a developers.get that fails for a reason other
// than the developer being gone fails the listing with the API's code,
// naming the developer, and returns no page with a hole in it; a 400 to
// the page of emails itself is the API's own error.
func TestListThenGetErrors(t *testing.T) {
	recs := genRecords(Developers, 5, 3)
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	f.unexpanded = true
	bad := Developers.Key(recs[3])
	f.intercept = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if strings.HasSuffix(r.URL.Path, "/developers/"+bad) {
			googleErr(w, 403, "PERMISSION_DENIED", "caller lacks apigee.developers.get")
			return true
		}
		return false
	}
	l := f.client(t).List("acme", Developers, Cursor{})
	p, err := l.Next(t.Context())
	if err == nil {
		t.Fatalf("page with %d records, want PERMISSION_DENIED", len(p.Records))
	}
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), bad) {
		t.Fatalf("got %v, want PERMISSION_DENIED naming %s", err, bad)
	}

	// Expand refused with and without count, then the page of emails
	// refused too: not about expand.
	f.mu.Lock()
	f.intercept = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		switch r.URL.Query().Get("expand") {
		case "true":
			googleErr(w, 400, "INVALID_ARGUMENT", "expand is not valid with count or startKey")
			return true
		case "false":
			googleErr(w, 400, "INVALID_ARGUMENT", "includeCompany is not supported")
			return true
		}
		return false
	}
	f.mu.Unlock()
	_, err = f.client(t).List("acme", Developers, Cursor{}).Next(t.Context())
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "includeCompany is not supported") {
		t.Fatalf("got %v, want the API's INVALID_ARGUMENT for the page of emails", err)
	}
	// It names the request refused first, with its own words.
	if msg := err.Error(); !strings.Contains(msg, "count=1000&expand=true&includeCompany=true: HTTP 400: expand is not valid") {
		t.Errorf("error %q does not name the first request refused", msg)
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
