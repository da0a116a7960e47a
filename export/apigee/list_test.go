package apigee

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
	"pubexport/formats/field"
)

// drain lists everything from a cursor and returns the pages.
func drain(t *testing.T, l *Lister) []*Page {
	t.Helper()
	var pages []*Page
	for {
		p, err := l.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return pages
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if p.Number != len(pages)+1 {
			t.Fatalf("page number %d, want %d", p.Number, len(pages)+1)
		}
		pages = append(pages, p)
	}
}

// checkExactly asserts that pages hold exactly want, each record once and
// equal to the server's.
func checkExactly(t *testing.T, r Resource, pages []*Page, want []proto.Message) {
	t.Helper()
	byKey := make(map[string]proto.Message, len(want))
	for _, m := range want {
		byKey[r.Key(m)] = m
	}
	got := make(map[string]bool)
	for _, p := range pages {
		for _, m := range p.Records {
			k := r.Key(m)
			if got[k] {
				t.Fatalf("%s %q delivered twice", r, k)
			}
			got[k] = true
			w, ok := byKey[k]
			if !ok {
				t.Fatalf("%s %q was not expected", r, k)
			}
			if !proto.Equal(m, w) {
				t.Fatalf("%s %q differs from the server's record", r, k)
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d %s, want %d", len(got), r, len(want))
	}
}

func TestListExactRecordSets(t *testing.T) {
	t.Parallel() // among the slowest: it runs beside the others after the rest
	for _, r := range Resources() {
		for _, n := range []int{0, 1, 999, 1000, 1001, 2001} {
			t.Run(fmt.Sprintf("%s/%d", r, n), func(t *testing.T) {
				recs := genRecords(r, n, uint64(n))
				f := newFakeAPI(t, map[Resource][]proto.Message{r: recs})
				pages := drain(t, f.client(t).List("acme", r, Cursor{}))
				checkExactly(t, r, pages, recs)
				if len(pages) == 0 {
					t.Fatal("no page: the first Next must return a page even for an empty list")
				}
				for _, p := range pages {
					if p.Duplicates != 0 || p.Unknown != 0 {
						t.Errorf("page %d: %d duplicates, %d unknown, want none", p.Number, p.Duplicates, p.Unknown)
					}
					if want := int64(-1); r != Apps && p.TotalSize != want {
						t.Errorf("page %d: TotalSize %d, want -1", p.Number, p.TotalSize)
					}
					if r == Apps && p.TotalSize != int64(n) {
						t.Errorf("page %d: TotalSize %d, want %d (every pass's total)", p.Number, p.TotalSize, n)
					}
				}
				// The last page's cursor may still point into the list
				// (whether a full page was the last is known only after
				// the next request); resuming from it yields nothing.
				for _, p := range drain(t, f.client(t).List("acme", r, pages[len(pages)-1].Next)) {
					if len(p.Records) != 0 {
						t.Errorf("resuming after the last page gave %d records", len(p.Records))
					}
				}
				for _, req := range f.log() {
					q := req.URL.Query()
					for _, p := range []string{"count", "pageSize"} {
						if v := q.Get(p); v != "" {
							if k, _ := strconv.Atoi(v); k > 1000 {
								t.Errorf("%s=%s asked for more than 1000", p, v)
							}
						}
					}
					if r == Apps && (q.Get("includeCred") != "true" || q.Get("status") == "") {
						t.Errorf("apps request %s lacks includeCred=true or an explicit status", req.URL)
					}
				}
			})
		}
	}
}

// TestListRevokedApps: the apps list defaults to approved; revoked apps
// must be exported too.
func TestListRevokedApps(t *testing.T) {
	recs := genRecords(Apps, 30, 3)
	revoked := 0
	for _, m := range recs {
		if m.(*apigeepb.App).GetStatus() == "revoked" {
			revoked++
		}
	}
	if revoked == 0 {
		t.Fatal("fixture has no revoked apps")
	}
	f := newFakeAPI(t, map[Resource][]proto.Message{Apps: recs})
	pages := drain(t, f.client(t, WithPageSize(4)).List("acme", Apps, Cursor{}))
	checkExactly(t, Apps, pages, recs)
	got := 0
	for _, p := range pages {
		for _, m := range p.Records {
			if m.(*apigeepb.App).GetStatus() == "revoked" {
				got++
			}
		}
	}
	if got != revoked {
		t.Fatalf("%d revoked apps exported, want %d", got, revoked)
	}
}

// TestListResume resumes from the cursor of every page (after a JSON round
// trip, as a checkpoint keeps it) and must get exactly the rest.
func TestListResume(t *testing.T) {
	for _, r := range Resources() {
		t.Run(string(r), func(t *testing.T) {
			recs := genRecords(r, 53, 9)
			f := newFakeAPI(t, map[Resource][]proto.Message{r: recs})
			c := f.client(t, WithPageSize(7))
			pages := drain(t, c.List("acme", r, Cursor{}))
			checkExactly(t, r, pages, recs)
			if len(pages) < 8 {
				t.Fatalf("only %d pages: the test needs many page boundaries", len(pages))
			}
			delivered := 0
			for i, p := range pages[:len(pages)-1] {
				delivered += len(p.Records)
				b, err := json.Marshal(p.Next)
				if err != nil {
					t.Fatal(err)
				}
				var cur Cursor
				if err := json.Unmarshal(b, &cur); err != nil {
					t.Fatal(err)
				}
				var rest []proto.Message
				seen := map[string]bool{}
				for _, q := range pages[:i+1] {
					for _, m := range q.Records {
						seen[r.Key(m)] = true
					}
				}
				for _, m := range recs {
					if !seen[r.Key(m)] {
						rest = append(rest, m)
					}
				}
				checkExactly(t, r, drain(t, c.List("acme", r, cur)), rest)
			}
			if delivered >= len(recs) {
				t.Fatal("resume points cover nothing")
			}
		})
	}
}

// TestListDedupe: a record the server repeats later in the list is
// exported once and counted.
func TestListDedupe(t *testing.T) {
	for _, r := range []Resource{Developers, APIProducts, Apps} {
		t.Run(string(r), func(t *testing.T) {
			recs := genRecords(r, 20, 5)
			if r == Apps {
				for _, m := range recs {
					m.(*apigeepb.App).Status = proto.String("approved")
				}
			}
			served := append(append([]proto.Message{}, recs...), recs[2]) // recs[2] again at the end
			f := newFakeAPI(t, map[Resource][]proto.Message{r: served})
			if r != Apps {
				// Key paging continues from a page's last key, so the
				// repeat sits inside a page (at index 8 of pages of 6).
				served = append(append(append([]proto.Message{}, recs[:8]...), recs[2]), recs[8:]...)
				f.data[r] = served
			}
			pages := drain(t, f.client(t, WithPageSize(6)).List("acme", r, Cursor{}))
			checkExactly(t, r, pages, recs)
			dups := 0
			for _, p := range pages {
				dups += p.Duplicates
			}
			if dups != 1 {
				t.Fatalf("%d duplicates counted, want 1", dups)
			}
		})
	}
}

// TestListBoundaryDroppedByKeyOnly: a server that does not repeat the
// startKey must not lose a record per page.
func TestListBoundaryDroppedByKeyOnly(t *testing.T) {
	recs := genRecords(Developers, 25, 11)
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	f.exclusiveStartKey = true
	checkExactly(t, Developers, drain(t, f.client(t, WithPageSize(5)).List("acme", Developers, Cursor{})), recs)
}

// TestListNonAdvancingCursor: a key page that is full and ends with the
// startKey it was asked for, or a repeated page token, is an error rather
// than an endless loop.
func TestListNonAdvancingCursor(t *testing.T) {
	t.Run("startKey", func(t *testing.T) {
		recs := genRecords(Developers, 10, 1)
		f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
		f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
			k := r.URL.Query().Get("startKey")
			if k == "" {
				return false
			}
			// A full page of the startKey record over and over.
			var page []proto.Message
			for _, m := range recs {
				if Developers.Key(m) == k {
					for range 5 {
						page = append(page, m)
					}
				}
			}
			writeProto(w, wrap(Developers, page))
			return true
		}
		l := f.client(t, WithPageSize(5)).List("acme", Developers, Cursor{})
		err := listErr(l)
		if c := status.Code(err); c != codes.Internal || !strings.Contains(err.Error(), "does not advance") {
			t.Fatalf("got %v (%v), want INTERNAL saying the listing does not advance", c, err)
		}
		if n := len(f.log()); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
	})
	t.Run("pageToken", func(t *testing.T) {
		f := newFakeAPI(t, nil)
		f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
			resp := wrap(Apps, genRecords(Apps, 1, uint64(n))).(*apigeepb.ListAppsResponse)
			resp.GetApp()[0].Status = proto.String("approved")
			resp.NextPageToken = proto.String("same")
			writeProto(w, resp)
			return true
		}
		err := listErr(f.client(t).List("acme", Apps, Cursor{}))
		if c := status.Code(err); c != codes.Internal || !strings.Contains(err.Error(), "does not advance") {
			t.Fatalf("got %v (%v), want INTERNAL", c, err)
		}
	})
}

// TestListNothingNewEnds: a full follow-up page of records already seen
// ends the list instead of looping.
func TestListNothingNewEnds(t *testing.T) {
	recs := genRecords(APIProducts, 8, 2)
	f := newFakeAPI(t, map[Resource][]proto.Message{APIProducts: recs})
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Query().Get("startKey") == "" {
			return false
		}
		// The startKey record, then the first page again.
		writeProto(w, wrap(APIProducts, append([]proto.Message{recs[3]}, recs[:3]...)))
		return true
	}
	pages := drain(t, f.client(t, WithPageSize(4)).List("acme", APIProducts, Cursor{}))
	checkExactly(t, APIProducts, pages, recs[:4])
	if got := pages[len(pages)-1].Duplicates; got != 3 {
		t.Fatalf("%d duplicates on the last page, want 3", got)
	}
}

// TestListStartKeyDeleted: every record a follow-up page starts from is
// deleted as it is asked for, so falling back to the records before it
// (TestListStartKeyDeletedOnce) runs out: ABORTED, saying to rerun, from
// the Next call for that page (not earlier).
func TestListStartKeyDeleted(t *testing.T) {
	recs := genRecords(Developers, 10, 4)
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	// The record is deleted after page 1 is served and before the request
	// for page 2 is: the Lister asks for page 2 before Next returns page
	// 1, so deleting it between the two Next calls would be too late.
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if k := r.URL.Query().Get("startKey"); k != "" {
			f.remove(Developers, k)
		}
		return false
	}
	l := f.client(t, WithPageSize(4)).List("acme", Developers, Cursor{})
	p, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Next.StartKey != Developers.Key(recs[3]) {
		t.Fatalf("page 1 continues from %q, want %q", p.Next.StartKey, Developers.Key(recs[3]))
	}
	_, err = l.Next(context.Background())
	if c := status.Code(err); c != codes.Aborted || !strings.Contains(err.Error(), "changed during the export") || !strings.Contains(err.Error(), "run the export again") {
		t.Fatalf("got %v (%v), want ABORTED for page 2 asking for a rerun", c, err)
	}
	if _, again := l.Next(context.Background()); again == nil || status.Code(again) != codes.Aborted {
		t.Fatalf("a failed listing must keep failing, got %v", again)
	}
}

// TestListMalformedJSON: a broken page fails with DATA_LOSS naming the
// page and the byte offset.
func TestListMalformedJSON(t *testing.T) {
	recs := genRecords(Developers, 10, 4)
	f := newFakeAPI(t, map[Resource][]proto.Message{Developers: recs})
	body := `{"developer":[{"email":"x@y.com"},{"email":"truncated`
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n != 2 {
			return false
		}
		io.WriteString(w, body)
		return true
	}
	l := f.client(t, WithPageSize(4)).List("acme", Developers, Cursor{})
	err := listErr(l)
	msg := fmt.Sprint(err)
	if c := status.Code(err); c != codes.DataLoss {
		t.Fatalf("got %v (%v), want DATA_LOSS", c, err)
	}
	for _, want := range []string{"page 2", "byte offset " + strconv.Itoa(len(body)), "startKey="} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

// TestListUnknownFields: fields Apigee added are ignored and counted.
func TestListUnknownFields(t *testing.T) {
	f := newFakeAPI(t, nil)
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		io.WriteString(w, `{"developer":[{"email":"a@b.com","newField":{"x":[1,2]},"firstName":"A"},{"email":"c@d.com","other":true}],"nextPageToken":""}`)
		return true
	}
	pages := drain(t, f.client(t).List("acme", Developers, Cursor{}))
	if len(pages) != 1 || len(pages[0].Records) != 2 {
		t.Fatalf("got %d pages, want 1 with 2 records", len(pages))
	}
	if got := pages[0].Unknown; got != 3 {
		t.Fatalf("Unknown = %d, want 3", got)
	}
	if got := pages[0].Records[0].(*apigeepb.Developer).GetFirstName(); got != "A" {
		t.Fatalf("firstName %q after an unknown field, want A", got)
	}
}

func TestListBadArguments(t *testing.T) {
	f := newFakeAPI(t, nil)
	c := f.client(t)
	if err := listErr(c.List("", Developers, Cursor{})); status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty org: %v", err)
	}
	if err := listErr(c.List("acme", "companies", Cursor{})); status.Code(err) != codes.InvalidArgument || !isField(err, field.Resource) {
		t.Errorf("unknown resource: %v", err)
	}
	if n := len(f.log()); n != 0 {
		t.Errorf("%d requests for invalid arguments, want none", n)
	}
	if _, err := c.List("acme", Developers, Cursor{Done: true}).Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("a Done cursor: %v, want io.EOF", err)
	}
}

func listErr(l *Lister) error {
	for {
		_, err := l.Next(context.Background())
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func writeProto(w http.ResponseWriter, m proto.Message) {
	b, err := protojsonMarshal(m)
	if err != nil {
		panic(err)
	}
	w.Write(b)
}

// TestListMalformedSecret: through the whole listing, a page with a
// malformed secret fails with DATA_LOSS that names the field, not its value.
func TestListMalformedSecret(t *testing.T) {
	f := newFakeAPI(t, nil)
	body := `{"app":[{"credentials":[{"consumerSecret":"s3cr3t\q"}]}]}`
	f.intercept = func(w http.ResponseWriter, r *http.Request, n int) bool {
		io.WriteString(w, body)
		return true
	}
	err := listErr(f.client(t).List("acme", Apps, Cursor{}))
	if status.Code(err) != codes.DataLoss {
		t.Fatalf("got %v (%v), want DATA_LOSS", status.Code(err), err)
	}
	msg := err.Error()
	if strings.Contains(msg, "s3cr3t") {
		t.Fatalf("error %q quotes the secret", msg)
	}
	at := strings.Index(body, `\q`)
	for _, want := range []string{"in app[0].credentials[0].consumerSecret", "byte offset " + strconv.Itoa(at), "invalid escape"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}
