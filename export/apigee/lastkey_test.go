package apigee

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// listPage writes recs as the list response of r in the forms the decoder
// accepts (see variantWriter), with the records as the page's only member,
// as the API writes its pages.
func listPage(r Resource, recs []proto.Message, seed uint64) string {
	w := &variantWriter{r: rand.New(rand.NewPCG(seed, 11))}
	m, _ := r.page()
	field := m.ProtoReflect().Descriptor().Fields().Get(0)
	w.ws()
	w.b.WriteByte('{')
	w.ws()
	if seed%3 == 0 {
		w.str(string(field.Name()))
	} else {
		w.str(field.JSONName())
	}
	w.ws()
	w.b.WriteString(":")
	w.ws()
	w.b.WriteByte('[')
	for i, rec := range recs {
		if i > 0 {
			w.b.WriteByte(',')
		}
		w.ws()
		w.message(rec.ProtoReflect())
		w.ws()
	}
	w.b.WriteByte(']')
	w.ws()
	w.b.WriteByte('}')
	w.ws()
	return w.b.String()
}

// TestLastKeyAgreesWithDecoder: on pages whose records are the page (as
// the API writes them), in every JSON form the decoder accepts (escapes in
// keys, proto names, nulls, shuffled and unknown fields, nested "name"
// fields), records without keys, lastKey reads the decoder's last key.
func TestLastKeyAgreesWithDecoder(t *testing.T) {
	for _, r := range []Resource{APIProducts, Developers} {
		for seed := range uint64(150) {
			rnd := rand.New(rand.NewPCG(seed, 4))
			recs := genRecords(r, int(seed%5)*2, seed)
			for _, m := range recs {
				switch m := m.(type) {
				case *apigeepb.ApiProduct:
					if rnd.IntN(5) == 0 {
						m.Name = nil
					} else if rnd.IntN(3) == 0 {
						m.Name = proto.String(`}"{\` + m.GetName() + `"}]` + "\u2028🚀")
					}
				case *apigeepb.Developer:
					if rnd.IntN(5) == 0 {
						m.Email = nil
					}
				}
			}
			s := listPage(r, recs, seed)
			d, err := decodeText(r, s)
			if err != nil {
				t.Fatalf("%s seed %d: the decoder refuses the page: %v\n%s", r, seed, err, s)
			}
			got, ok := lastKey(r, s)
			if len(d.records) == 0 {
				if ok {
					t.Errorf("%s seed %d: lastKey %q of a page without records", r, seed, got)
				}
				continue
			}
			if want := r.Key(d.records[len(d.records)-1]); !ok || got != want {
				t.Errorf("%s seed %d: lastKey = %q, %v; the decoder's last key is %q\n%s", r, seed, got, ok, want, s)
			}
		}
	}
}

// TestLastKeyEdges: pages chosen for their edges. ok false makes the
// listing peek the whole page; it must be false wherever the last record
// is not plainly what the decoder reads, or the records do not make up the
// page.
func TestLastKeyEdges(t *testing.T) {
	cases := []struct {
		in  string
		ok  bool
		key string
	}{
		{`{"apiProduct":[{"name":"a"},{"name":"b"}]}`, true, "b"},
		{" \n{ \"api_product\" :\t[ {\"name\":\"a\"} , { \"name\" : \"b\" } ] } \n", true, "b"},
		{`{"apiProduct":[{"name":"only"}]}`, true, "only"},
		{`{"apiProduct":[{"attributes":[{"name":"n"}],"name":"p","operationGroup":{"operationConfigs":[{"apiSource":"s"}]}}]}`, true, "p"},
		{`{"apiProduct":[{"name":"a"},{"name":"p","attributes":[{"name":"n"}]}]}`, true, "p"},
		{`{"apiProduct":[{"name":"a"},{"displayName":"no name"}]}`, true, ""},
		{`{"apiProduct":[{"name":"a"},{"name":null}]}`, true, ""},
		{`{"apiProduct":[{"name":"a"},{"description":"}{\"name\":\"x\"}\\","name":"p\"}\u0041"}]}`, true, `p"}A`},
		{`{"apiProduct":[{"name":"a"},{"description":"[\\\\\"]","name":"q"}]}`, true, "q"},
		// Not the page's shape, or not plainly readable: peek the page.
		{`{"apiProduct":[]}`, false, ""},
		{`{"apiProduct":null}`, false, ""},
		{`{}`, false, ""},
		{``, false, ""},
		{`{"apiProduct":[{"name":"a"}]`, false, ""},
		{`{"apiProduct":[{"name":"a"}],"x":1}`, false, ""},
		{`{"x":1,"apiProduct":[{"name":"a"}]}`, false, ""},
		{`{"developer":[{"name":"a"}]}`, false, ""},
		{`{"apiProduct":[{"name":"a","name":"b"}]}`, false, ""},
		{`{"apiProduct":[{"name":"a","name":null}]}`, false, ""},
		{`{"apiProduct":[{"name":5}]}`, false, ""},
		{`{"apiProduct":[{"name":"a"},{"name":"b",}]}`, false, ""},
		{`{"apiProduct":[{"name":"a"},"name":"b"}]}`, false, ""},
		{`{"apiProduct":[{"name":"a"}{"name":"b"}]}`, false, ""},
		{`{"apiProduct":[{"name":"a"},{"name":"b\q"}]}`, false, ""},
		{`{"apiProduct":[{"name":"a"},{"x":"\"}","name":"b"}]}`, true, "b"},
		{`{"apiProduct":[{"name":"a"},{"x":"}","name":"b"]}]}`, false, ""},
		{`{"apiProduct":[{"name":"a"},{"x":[}],"name":"b"}]}`, false, ""},
		// Read from the end only: a fault among the earlier records is
		// the decoder's to find (the listing then drops its request ahead).
		{`{"apiProduct":[{"name":"a",,},{"name":"b"}]}`, true, "b"},
	}
	for _, c := range cases {
		got, ok := lastKey(APIProducts, c.in)
		if ok != c.ok || got != c.key {
			t.Errorf("%s: lastKey = %q, %v; want %q, %v", c.in, got, ok, c.key, c.ok)
		}
		if want, err := decodedPeek(APIProducts, c.in); err == nil && ok && len(want.keys) > 0 && want.keys[len(want.keys)-1] != got {
			t.Errorf("%s: lastKey %q, the decoder's last key %q", c.in, got, want.keys[len(want.keys)-1])
		}
	}
}

// TestKeyAheadFromTheTail: a page of API products goes on from its last
// key, read from its end; developers, whose short page ends the listing,
// need the whole page read first. The page below is one the whole-page
// peek refuses (a fault in its first record) and whose end is plain: only
// the tail is read for products.
func TestKeyAheadFromTheTail(t *testing.T) {
	const page = `{"%s":[{"%s":"a",,},{"%s":"b"}]}`
	for _, c := range []struct {
		r          Resource
		list, key  string
		ahead      bool
		wantCursor string
	}{
		{APIProducts, "apiProduct", "name", true, "b"},
		{Developers, "developer", "email", false, ""},
	} {
		f := newFakeAPI(t, nil)
		l := f.client(t).List("acme", c.r, Cursor{})
		s := fmt.Sprintf(page, c.list, c.key, c.key)
		if _, ok := peekPage(c.r, s, true); ok {
			t.Fatalf("%s: peekPage reads %s", c.r, s)
		}
		cur, ok := l.keyAhead(s, "", 1000)
		if ok != c.ahead || cur.StartKey != c.wantCursor {
			t.Errorf("%s: keyAhead = %+v, %v; want startKey %q, %v", c.r, cur, ok, c.wantCursor, c.ahead)
		}
	}
}

// TestProductsFaultyPageDropsItsRequestAhead: a page of API products whose
// fault is among its earlier records is followed by a request ahead (see
// keyAhead); the listing still fails on that page as one that waits does,
// with the request ahead stopped and nothing of the page returned.
func TestProductsFaultyPageDropsItsRequestAhead(t *testing.T) {
	recs := genRecords(APIProducts, 30, 5)
	mk := func(t *testing.T) (*fakeAPI, *Lister) {
		f := newFakeAPI(t, map[Resource][]proto.Message{APIProducts: recs})
		f.intercept = func(w http.ResponseWriter, req *http.Request, n int) bool {
			if n != 2 {
				return false
			}
			io.WriteString(w, `{"apiProduct":[{"name":"x",,},{"name":"zz-last"}]}`)
			return true
		}
		return f, f.client(t, WithPageSize(7)).List("acme", APIProducts, Cursor{})
	}
	var errs [2]string
	var pages [2]int
	for i, noAhead := range []bool{true, false} {
		f, l := mk(t)
		l.noAhead = noAhead
		for {
			p, err := l.Next(context.Background())
			if err != nil {
				if errors.Is(err, io.EOF) || status.Code(err) != codes.DataLoss {
					t.Errorf("noAhead %v: the listing ended with %v, want DATA_LOSS", noAhead, err)
				}
				errs[i] = strings.ReplaceAll(err.Error(), f.srv.URL, "URL")
				break
			}
			pages[i]++
			if p.Next.StartKey == "zz-last" {
				t.Errorf("noAhead %v: the faulty page moved the listing on to %q", noAhead, p.Next.StartKey)
			}
		}
		if len(l.ahead) != 0 {
			t.Errorf("noAhead %v: a request ahead is left after the listing failed", noAhead)
		}
	}
	if pages[0] != 1 || pages[1] != 1 {
		t.Errorf("pages before the failure: %d waiting, %d asking ahead; want 1 each", pages[0], pages[1])
	}
	if errs[0] != errs[1] {
		t.Errorf("errors differ:\n  waiting: %s\n  ahead:   %s", errs[0], errs[1])
	}
}

// TestTailTokenEdges: apps pages chosen for their edges. ok false makes
// the listing peek the whole page; it must be false wherever the token is
// not plainly a string among the page's last members.
func TestTailTokenEdges(t *testing.T) {
	cases := []struct {
		in  string
		ok  bool
		tok string
	}{
		{`{"app":[{"appId":"a"}],"nextPageToken":"t1","totalSize":3}`, true, "t1"},
		{" {\"app\":[],\n\"totalSize\" : -1.5e3 , \"next_page_token\"\t:\"t\\u0032\" } ", true, "t2"},
		{`{"app":[{"appId":"a","nextPageToken":"inner"}],"totalSize":3,"nextPageToken":"t\"}],\\"}`, true, `t"}],\`},
		{`{"nextPageToken":"t3","totalSize":1}`, true, "t3"},
		{`{"app":[],"nextPageToken":"t","x":true,"y":null,"z":"s"}`, true, "t"},
		// Not there, not a string, or not plain: peek the page.
		{`{"nextPageToken":"t","app":[{"appId":"a"}]}`, false, ""},
		{`{"app":[],"nextPageToken":null}`, false, ""},
		{`{"app":[],"nextPageToken":""}`, false, ""},
		{`{"app":[],"nextPageToken":5}`, false, ""},
		{`{"app":[],"nextPageToken":"a","next_page_token":"b"}`, false, ""},
		{`{"app":[],"nextPageToken":"t\q"}`, false, ""},
		{`{"app":[],"nextPageToken":"t",}`, false, ""},
		{`{"app":[],"nextPageToken":"t"`, false, ""},
		{`{"app":[],"nextPageToken" "t"}`, false, ""},
		{`{"app":[],nextPageToken:"t"}`, false, ""},
		{`{"app":[],"totalSize":,"nextPageToken":"t"}`, false, ""},
		{`{"app":[],"nextPageToken":"t"} x`, false, ""},
		{`"nextPageToken":"t"}`, false, ""},
		{``, false, ""},
		{`}`, false, ""},
		{`"}`, false, ""},
	}
	for _, c := range cases {
		got, ok := tailToken(c.in)
		if ok != c.ok || got != c.tok {
			t.Errorf("%s: tailToken = %q, %v; want %q, %v", c.in, got, ok, c.tok, c.ok)
		}
		if want, err := decodedPeek(Apps, c.in); err == nil && ok && want.nextToken != got {
			t.Errorf("%s: tailToken %q, the decoder's token %q", c.in, got, want.nextToken)
		}
	}
}
