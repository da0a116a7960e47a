package apigee

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// decodedPeek is what peekPage should find, taken from the decoded page.
func decodedPeek(r Resource, s string) (pagePeek, error) {
	d, err := decodeText(r, s)
	if err != nil {
		return pagePeek{}, err
	}
	p := pagePeek{nextToken: d.nextToken}
	if r != Apps {
		p.keys = []string{}
		for _, m := range d.records {
			p.keys = append(p.keys, r.Key(m))
		}
	}
	return p, nil
}

func peekFor(r Resource, s string) (pagePeek, bool) {
	p, ok := peekPage(r, s, r != Apps)
	if ok && r != Apps && p.keys == nil {
		p.keys = []string{}
	}
	return p, ok
}

// TestPeekPageAgreesWithDecoder: on realistic pages written in every JSON
// form the decoder accepts (escapes in keys and tokens, proto names, nulls,
// shuffled and unknown fields; see variantWriter), some records without
// keys, peekPage reads the same keys and nextPageToken as the decoder, and
// so does tailToken where the token is among the page's last members.
func TestPeekPageAgreesWithDecoder(t *testing.T) {
	tails := 0
	for _, r := range Resources() {
		for seed := range uint64(200) {
			rnd := rand.New(rand.NewPCG(seed, 3))
			recs := genRecords(r, int(seed%9)*2, seed)
			for _, m := range recs {
				if rnd.IntN(6) == 0 {
					switch m := m.(type) {
					case *apigeepb.Developer:
						m.Email = nil
					case *apigeepb.ApiProduct:
						m.Name = nil
					}
				} else if rnd.IntN(4) == 0 {
					switch m := m.(type) { // keys that need escapes
					case *apigeepb.Developer:
						m.Email = proto.String(`"q"\` + m.GetEmail() + "\u2028é🚀")
					case *apigeepb.ApiProduct:
						m.Name = proto.String("</p>\t" + m.GetName())
					}
				}
			}
			page := wrap(r, recs)
			if a, ok := page.(*apigeepb.ListAppsResponse); ok && seed%3 != 0 {
				a.NextPageToken = proto.String(fmt.Sprintf("tok/\"%d\"\\é", seed))
				a.TotalSize = proto.Int32(int32(seed))
			}
			w := &variantWriter{r: rnd}
			w.message(page.ProtoReflect())
			s := w.b.String()
			want, err := decodedPeek(r, s)
			if err != nil {
				t.Fatalf("%s seed %d: %v", r, seed, err)
			}
			got, ok := peekFor(r, s)
			if !ok {
				t.Fatalf("%s seed %d: peekPage cannot read a page the decoder reads:\n%s", r, seed, s)
			}
			if !slices.Equal(got.keys, want.keys) || got.nextToken != want.nextToken {
				t.Fatalf("%s seed %d: peekPage read %q %q, the decoder %q %q\n%s", r, seed, got.keys, got.nextToken, want.keys, want.nextToken, s)
			}
			if r != Apps {
				continue
			}
			// The token read at the page's end, when it is there, is the
			// decoder's too.
			if tok, ok := tailToken(s); ok {
				tails++
				if tok != want.nextToken {
					t.Fatalf("seed %d: tailToken read %q, the decoder %q\n%s", seed, tok, want.nextToken, s)
				}
			}
		}
	}
	if tails < 20 {
		t.Errorf("tailToken read only %d of the apps pages; the test wants more of them", tails)
	}
}

// TestPeekPageEdges: pages chosen for their edges. ok false makes the
// listing learn the cursor by decoding, so it must be false wherever the
// decoder would refuse the page's structure or its keys and token, or the
// key is not plainly a string. The strings it passes over are not checked
// (the decoder refuses a bad one, and the listing drops its request ahead).
func TestPeekPageEdges(t *testing.T) {
	cases := []struct {
		r    Resource
		in   string
		ok   bool
		keys []string
		tok  string
	}{
		{Developers, `{}`, true, nil, ""},
		{Developers, ` {"developer":null} `, true, nil, ""},
		{Developers, `{"developer":[]}`, true, nil, ""},
		{Developers, `{"developer":[{}]}`, true, []string{""}, ""},
		{Developers, `{"developer":[{"email":null},{"firstName":"x"}]}`, true, []string{"", ""}, ""},
		{Developers, `{"developer":[{"email":"a\u0040b.com"},{"email":"\"q\"\\\/\ud83d\ude80"}]}`, true, []string{"a@b.com", `"q"\/🚀`}, ""},
		{Developers, "{\n\t\"developer\" : [ { \"attributes\":[{\"name\":\"email\",\"value\":\"no\"}], \"email\" : \"x@y\" } ] ,\"nextPageToken\":\"\"}", true, []string{"x@y"}, ""},
		{Developers, `{"unknown":{"developer":[{"email":"no"}]},"developer":[{"email":"a"}]}`, true, []string{"a"}, ""},
		{APIProducts, `{"api_product":[{"attributes":[{"name":"n1"}],"name":"p1","operationGroup":{"operationConfigs":[{"apiSource":"s","operations":[{"resource":"/"}]}]}},{"name":"p2"}]}`, true, []string{"p1", "p2"}, ""},
		{APIProducts, `{"apiProduct":[{"name":"p1"}],"api_product":[{"name":"p2"}]}`, false, nil, ""}, // the same field twice
		{Developers, `{"developer":[{"email":"a","email":"b"}]}`, false, nil, ""},
		{Developers, `{"developer":[{"email":null,"email":"b"}]}`, false, nil, ""},
		{Developers, `{"developer":[{"email":5}]}`, false, nil, ""},
		{Developers, `{"developer":[null]}`, false, nil, ""},
		{Developers, `{"developer":{"email":"a"}}`, false, nil, ""},
		{Developers, `{"developer":[{"email":"a"}]} x`, false, nil, ""},
		{Developers, `{"developer":[{"email":"a"},]}`, false, nil, ""},
		{Developers, `{"developer":[{"email":"a\q"}]}`, false, nil, ""},
		{Developers, "{\"developer\":[{\"email\":\"\xff\"}]}", false, nil, ""},
		{Developers, `{"developer":[{"email":"a"}]`, false, nil, ""},
		{Developers, "{\"developer\":[{\"firstName\":\"\xff\\q\",\"email\":\"a\"}]}", true, []string{"a"}, ""},
		{Developers, `{"developer":[{"firstName":"\\\"","email":"a"},{"x":"\\","email":"b"}]}`, true, []string{"a", "b"}, ""},
		{Developers, `{"developer":[{"firstName":"a\"}]}`, false, nil, ""},
		{Developers, ``, false, nil, ""},
		{Developers, `[]`, false, nil, ""},
		{Apps, `{"app":[{"appId":"a","credentials":[{"consumerKey":"nextPageToken"}]}],"nextPageToken":"t\u0031","totalSize":3}`, true, nil, "t1"},
		{Apps, `{"next_page_token":"t2","app":null}`, true, nil, "t2"},
		{Apps, `{"nextPageToken":null}`, true, nil, ""},
		{Apps, `{"nextPageToken":"a","next_page_token":"b"}`, false, nil, ""},
		{Apps, `{"nextPageToken":1}`, false, nil, ""},
		{Apps, `{"app":[{"appId":"a"}}],"nextPageToken":"t"}`, false, nil, ""},
	}
	for _, c := range cases {
		got, ok := peekPage(c.r, c.in, c.r != Apps)
		if ok != c.ok || (ok && (!slices.Equal(got.keys, c.keys) || got.nextToken != c.tok)) {
			t.Errorf("%s %s: got %q %q %v, want %q %q %v", c.r, c.in, got.keys, got.nextToken, ok, c.keys, c.tok, c.ok)
		}
		// Whatever the decoder accepts, peekPage reads as it does.
		if want, err := decodedPeek(c.r, c.in); err == nil {
			if g, _ := peekFor(c.r, c.in); !slices.Equal(g.keys, want.keys) || g.nextToken != want.nextToken {
				t.Errorf("%s %s: peekPage %q %q, decoder %q %q", c.r, c.in, g.keys, g.nextToken, want.keys, want.nextToken)
			}
		}
	}
}

// FuzzPeekPage: peekPage never panics; on every input the decoder
// accepts, it reads the page and finds the decoder's keys and token.
func FuzzPeekPage(f *testing.F) {
	for _, r := range Resources() {
		b, _ := protojson.Marshal(wrap(r, genRecords(r, 2, 1)))
		f.Add(b)
	}
	f.Add([]byte(`{"developer":[{"email":"a\u0040b"},{}],"apiProduct":[{"name":null}],"app":[],"nextPageToken":"\ud83d\ude80"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, r := range Resources() {
			lastKey(r, string(in)) // never panics either
			tok, tokOK := tailToken(string(in))
			got, ok := peekFor(r, string(in))
			want, err := decodedPeek(r, string(in))
			if err != nil {
				continue // the listing fails on this page either way
			}
			if r == Apps && tokOK && tok != want.nextToken {
				t.Fatalf("%q: tailToken %q, decoder %q", in, tok, want.nextToken)
			}
			if !ok {
				t.Fatalf("%s: the decoder reads %q, peekPage cannot", r, in)
			}
			if !slices.Equal(got.keys, want.keys) || got.nextToken != want.nextToken {
				t.Fatalf("%s: %q: peekPage %q %q, decoder %q %q", r, in, got.keys, got.nextToken, want.keys, want.nextToken)
			}
		}
	})
}

// BenchmarkPeekPage: reading where a page leads costs a fraction of
// decoding it (compare BenchmarkDecodePage/fast, the same apps page); it is
// what a listing does before it asks for the next page. lastKey and
// tailToken, which read only the page's end, are what a listing of API
// products and an apps pass paged by token do.
func BenchmarkPeekPage(b *testing.B) {
	for _, r := range Resources() {
		m := wrap(r, genRecords(r, 1000, 42))
		if a, ok := m.(*apigeepb.ListAppsResponse); ok {
			a.NextPageToken = proto.String("YXBwczphcHByb3ZlZDphcHByb3ZlZDoz")
		}
		page, err := protojson.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		s := string(page)
		b.Run(string(r), func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				if _, ok := peekPage(r, s, r != Apps); !ok {
					b.Fatal("peekPage cannot read the page")
				}
			}
		})
		if r == Apps {
			b.Run(string(r)+"/tailtoken", func(b *testing.B) {
				b.SetBytes(int64(len(s)))
				for b.Loop() {
					if _, ok := tailToken(s); !ok {
						b.Fatal("tailToken cannot read the page")
					}
				}
			})
		} else {
			b.Run(string(r)+"/lastkey", func(b *testing.B) {
				b.SetBytes(int64(len(s)))
				for b.Loop() {
					if _, ok := lastKey(r, s); !ok {
						b.Fatal("lastKey cannot read the page")
					}
				}
			})
		}
		b.Run(string(r)+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				if _, err := decodeText(r, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPeekedTokenOwnsItsBytes: the next token peekPage returns stays the
// same when the page's bytes are reused, so that keeping it (as the pass
// readers do for every page of a pass) does not keep the page alive.
func TestPeekedTokenOwnsItsBytes(t *testing.T) {
	body := []byte(`{"app":[{"appId":"a1","name":"n"}],"nextPageToken":"tok-123"}`)
	pk, ok := peekPage(Apps, unsafe.String(unsafe.SliceData(body), len(body)), false)
	if !ok || pk.nextToken != "tok-123" {
		t.Fatalf("peekPage = %q, %v; want token tok-123", pk.nextToken, ok)
	}
	for i := range body {
		body[i] = 'x'
	}
	if pk.nextToken != "tok-123" {
		t.Errorf("after the page's bytes changed, the peeked token is %q; want tok-123 (a copy)", pk.nextToken)
	}
}
