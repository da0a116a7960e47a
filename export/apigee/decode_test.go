package apigee

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/internal/pagejson"
)

// wrap puts records of r into r's list response.
func wrap(r Resource, recs []proto.Message) proto.Message {
	m, _ := r.page()
	rm := m.ProtoReflect()
	fd := rm.Descriptor().Fields().Get(0) // developer / app / apiProduct
	l := rm.Mutable(fd).List()
	for _, rec := range recs {
		l.Append(protoreflect.ValueOfMessage(rec.ProtoReflect()))
	}
	return m
}

// fastDecode decodes data as a list response of r with the fast decoder.
func fastDecode(r Resource, data []byte) (proto.Message, int, error) {
	m, _ := r.page()
	n, err := pagePlans[r].Decode(string(data), m.ProtoReflect())
	return m, n, err
}

// reflectDecode decodes data as a list response of r with the same plan as
// fastDecode, into a dynamicpb message: the decoder's protoreflect path,
// which the generated page types never take.
func reflectDecode(r Resource, data []byte) (proto.Message, error) {
	m, _ := r.page()
	dm := dynamicpb.NewMessage(m.ProtoReflect().Descriptor())
	_, err := pagePlans[r].Decode(string(data), dm)
	return dm, err
}

func slowDecode(r Resource, data []byte) (proto.Message, error) {
	m, _ := r.page()
	err := protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, m)
	return m, err
}

// variantWriter writes a message as JSON in one of the many forms a
// protojson reader accepts: JSON or proto names, int64 as string or number
// (also 1.0 and 1e3 forms), enums by name or number, random escapes and
// whitespace, shuffled fields, nulls, and unknown fields with nested values.
type variantWriter struct {
	r       *rand.Rand
	b       bytes.Buffer
	unknown int
}

func (w *variantWriter) ws() {
	for w.r.IntN(4) == 0 {
		w.b.WriteByte(" \t\n\r"[w.r.IntN(4)])
	}
}

func (w *variantWriter) str(s string) {
	w.b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			w.b.WriteByte('\\')
			w.b.WriteRune(c)
		case c < 0x20 || w.r.IntN(10) == 0:
			if c > 0xFFFF {
				hi, lo := (c-0x10000)>>10+0xD800, (c-0x10000)&0x3FF+0xDC00
				fmt.Fprintf(&w.b, `\u%04x\u%04X`, hi, lo)
			} else {
				fmt.Fprintf(&w.b, `\u%04x`, c)
			}
		case c == '/' && w.r.IntN(2) == 0:
			w.b.WriteString(`\/`)
		default:
			w.b.WriteRune(c)
		}
	}
	w.b.WriteByte('"')
}

func (w *variantWriter) junk(depth int) {
	switch n := w.r.IntN(7); {
	case n == 0 && depth < 3:
		w.b.WriteByte('{')
		for i := range w.r.IntN(3) {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.ws()
			w.str(fmt.Sprint("k", i))
			w.b.WriteByte(':')
			w.junk(depth + 1)
		}
		w.b.WriteByte('}')
	case n == 1 && depth < 3:
		w.b.WriteByte('[')
		for i := range w.r.IntN(3) {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.junk(depth + 1)
		}
		w.b.WriteByte(']')
	case n == 2:
		w.str(pick(w.r, oddText))
	case n == 3:
		w.b.WriteString(pick(w.r, []string{"-1.5e-3", "0", "12345678901234567890", "3.25"}))
	default:
		w.b.WriteString(pick(w.r, []string{"null", "true", "false"}))
	}
}

func (w *variantWriter) int(n int64) {
	switch w.r.IntN(5) {
	case 0:
		w.b.WriteString(strconv.FormatInt(n, 10))
	case 1:
		fmt.Fprintf(&w.b, "%d.0", n)
	case 2:
		if n != 0 && n%1000 == 0 {
			fmt.Fprintf(&w.b, "%de3", n/1000)
		} else {
			fmt.Fprintf(&w.b, `"%d"`, n)
		}
	default:
		fmt.Fprintf(&w.b, `"%d"`, n)
	}
}

func (w *variantWriter) scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		w.str(v.String())
	case protoreflect.BoolKind:
		w.b.WriteString(strconv.FormatBool(v.Bool()))
	case protoreflect.Int64Kind, protoreflect.Int32Kind:
		w.int(v.Int())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil && w.r.IntN(2) == 0 {
			w.str(string(ev.Name()))
		} else {
			fmt.Fprint(&w.b, int32(v.Enum()))
		}
	default:
		panic(fd.Kind())
	}
}

func (w *variantWriter) message(m protoreflect.Message) {
	type kv struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var fields []kv
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fields = append(fields, kv{fd, v})
		return true
	})
	// Unset fields as null or [] now and then, and unknown fields.
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		if fd := fds.Get(i); !m.Has(fd) && w.r.IntN(8) == 0 {
			fields = append(fields, kv{fd, protoreflect.Value{}})
		}
	}
	for range w.r.IntN(2) {
		fields = append(fields, kv{})
	}
	w.r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	w.b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			w.b.WriteByte(',')
		}
		w.ws()
		if f.fd == nil {
			w.unknown++
			w.str(fmt.Sprintf("addedByApigee%d", w.r.IntN(1000)))
			w.ws()
			w.b.WriteByte(':')
			w.ws()
			w.junk(0)
			continue
		}
		if w.r.IntN(3) == 0 {
			w.str(string(f.fd.Name()))
		} else {
			w.str(f.fd.JSONName())
		}
		w.ws()
		w.b.WriteByte(':')
		w.ws()
		switch {
		case !f.v.IsValid() && f.fd.IsList() && w.r.IntN(2) == 0:
			w.b.WriteString("[ ]")
		case !f.v.IsValid():
			w.b.WriteString("null")
		case f.fd.IsList():
			l := f.v.List()
			w.b.WriteByte('[')
			for j := range l.Len() {
				if j > 0 {
					w.b.WriteByte(',')
				}
				w.ws()
				if f.fd.Kind() == protoreflect.MessageKind {
					w.message(l.Get(j).Message())
				} else {
					w.scalar(f.fd, l.Get(j))
				}
			}
			w.b.WriteByte(']')
		case f.fd.Kind() == protoreflect.MessageKind:
			w.message(f.v.Message())
		default:
			w.scalar(f.fd, f.v)
		}
		w.ws()
	}
	w.b.WriteByte('}')
}

// TestDecodeDifferential decodes realistic pages written in many JSON forms
// with both decoders: both must give back the original records exactly,
// and the fast decoder must count exactly the unknown fields written.
func TestDecodeDifferential(t *testing.T) {
	for _, res := range Resources() {
		for seed := range uint64(40) {
			recs := genRecords(res, int(seed%7)*3, seed)
			want := wrap(res, recs)
			if res == Apps && seed%2 == 0 {
				a := want.(*apigeepb.ListAppsResponse)
				a.NextPageToken = proto.String(fmt.Sprint("tok", seed))
				a.TotalSize = proto.Int32(int32(seed * 1000))
			}
			w := &variantWriter{r: rand.New(rand.NewPCG(seed, 99))}
			w.message(want.ProtoReflect())
			data := w.b.Bytes()

			got, unknown, err := fastDecode(res, data)
			if err != nil {
				t.Fatalf("%s seed %d: fast decoder: %v\n%s", res, seed, err, data)
			}
			slow, err := slowDecode(res, data)
			if err != nil {
				t.Fatalf("%s seed %d: protojson: %v\n%s", res, seed, err, data)
			}
			if !proto.Equal(got, want) || !proto.Equal(slow, want) {
				t.Fatalf("%s seed %d: decoders disagree with the original\nfast equal %v, protojson equal %v\n%s", res, seed, proto.Equal(got, want), proto.Equal(slow, want), data)
			}
			if unknown != w.unknown {
				t.Errorf("%s seed %d: counted %d unknown fields, wrote %d", res, seed, unknown, w.unknown)
			}
			refl, err := reflectDecode(res, data)
			if err != nil || !proto.Equal(refl, want) {
				t.Fatalf("%s seed %d: the protoreflect path disagrees with the original (error %v)\n%s", res, seed, err, data)
			}
		}
	}
}

// TestDecodeEdgeCases holds the fast decoder to protojson on inputs chosen
// for their edges: each must be accepted by both (with equal results) or
// refused by both, except the documented stricter cases.
func TestDecodeEdgeCases(t *testing.T) {
	cases := []struct {
		in       string
		stricter bool // protojson accepts, we refuse (documented)
	}{
		{in: `{}`},
		{in: ` {"app":[]} `},
		{in: `{"app":null}`},
		{in: `{"app":[null]}`},
		{in: `{"app":[{}]}`},
		{in: `{"app":[{"appId":"a\u00e9\ud83d\ude80\/\"\\\b\f\n\r\t"}]}`},
		{in: `{"app":[{"appId":"\ud83d"}]}`},             // lone high surrogate
		{in: `{"app":[{"appId":"\ude80\ud83d"}]}`},       // reversed pair
		{in: `{"app":[{"appId":"\ud83d\u0041"}]}`},       // high + non-surrogate
		{in: `{"app":[{"appId":"\uD83D\uDE80"}]}`},       // upper-case hex
		{in: `{"app":[{"appId":"\u00zz"}]}`},             // bad hex
		{in: `{"app":[{"appId":"\x"}]}`},                 // bad escape
		{in: "{\"app\":[{\"appId\":\"a\x01\"}]}"},        // control character
		{in: "{\"app\":[{\"appId\":\"\xff\"}]}"},         // invalid UTF-8
		{in: "{\"app\":[{\"appId\":\"\xed\xa0\x80\"}]}"}, // UTF-8 encoded surrogate
		{in: "{\"app\":[{\"x\":\"\xc3\"}]}"},             // invalid UTF-8 in an unknown field
		{in: "{\"\xc3\":1}"},                             // invalid UTF-8 in a name
		{in: `{"app":[{"createdAt":"123"}]}`},
		{in: `{"app":[{"createdAt":123}]}`},
		{in: `{"app":[{"createdAt":"-0"}]}`},
		{in: `{"app":[{"createdAt":1.0}]}`},
		{in: `{"app":[{"createdAt":1.5}]}`},
		{in: `{"app":[{"createdAt":15e-1}]}`},
		{in: `{"app":[{"createdAt":1500e-3}]}`},
		{in: `{"app":[{"createdAt":"1e3"}]}`},
		{in: `{"app":[{"createdAt":" 1"}]}`},
		{in: `{"app":[{"createdAt":"1 "}]}`},
		{in: `{"app":[{"createdAt":"01"}]}`},
		{in: `{"app":[{"createdAt":"+1"}]}`},
		{in: `{"app":[{"createdAt":"9223372036854775807"}]}`},
		{in: `{"app":[{"createdAt":"9223372036854775808"}]}`},
		{in: `{"app":[{"createdAt":-9223372036854775808}]}`},
		{in: `{"app":[{"createdAt":"\u0031"}]}`},
		{in: `{"app":[{"createdAt":true}]}`},
		{in: `{"app":[{"createdAt":null}]}`},
		{in: `{"totalSize":2147483647}`},
		{in: `{"totalSize":2147483648}`},
		{in: `{"totalSize":"7"}`},
		{in: `{"totalSize":1e}`, stricter: true},
		{in: `{"totalSize":1e+ }`}, // protojson refuses it as an int32
		{in: `{"x":1e+ }`, stricter: true},
		{in: `{"totalSize":1e`},
		{in: `{"totalSize":1.}`},
		{in: `{"totalSize":-}`},
		{in: `{"totalSize":01}`},
		{in: `{"x":1e}`, stricter: true},
		{in: `{"app":[{"appId":"a","app_id":"b"}]}`}, // duplicate via proto name
		{in: `{"app":[{"appId":null,"appId":"b"}]}`}, // duplicate after null
		{in: `{"app":[{"app_id":"b"}]}`},
		{in: `{"app":[],"app":[]}`},
		{in: `{"app":[{"status":"approved",}]}`},
		{in: `{"app":[{"status":"approved"},]}`},
		{in: `{"app":[{"status":"approved"}]}x`},
		{in: `{"app":[{"status":"approved"}]}{}`},
		{in: `{"app":[{"status":"approved"}]`},
		{in: ``},
		{in: `[]`},
		{in: `{"app":{}}`},
		{in: `{"app":[1]}`},
		{in: `{"app":[{"scopes":["a",null]}]}`},
		{in: `{"app":[{"scopes":"a"}]}`},
		{in: `{"app":[{"appId":1}]}`},
		{in: `{"nextPageToken":"t","unknown":{"a":[1,{"b":null}],"c":"\u00e9"}}`},
		{in: `{"unknown":nul}`},
		{in: `{"unknown":truex}`},
		{in: `{"unknown":[1 2]}`},
		{in: `{"unknown":{"a" 1}}`},
		{in: `{"unknown":{1:1}}`},
		{in: `{"[google.ext]":1}`},
		{in: "{\n\t\"app\" :\r[ ] }"},
		{in: "{\"app\":[]}\u00a0"},
	}
	// Enums live in API products.
	enumCases := []string{
		`{"apiProduct":[{"quotaCounterScope":"PROXY"}]}`,
		`{"apiProduct":[{"quotaCounterScope":2}]}`,
		`{"apiProduct":[{"quotaCounterScope":99}]}`,
		`{"apiProduct":[{"quotaCounterScope":"NEW_SCOPE"}]}`,
		`{"apiProduct":[{"quotaCounterScope":1.0}]}`,
		`{"apiProduct":[{"quotaCounterScope":"1"}]}`,
		`{"apiProduct":[{"quotaCounterScope":true}]}`,
		`{"apiProduct":[{"operationGroup":{"operationConfigs":[{"quota":{"limit":"5"}}]}}]}`,
		`{"apiProduct":[{"operationGroup":null}]}`,
		`{"apiProduct":[{"operationGroup":[]}]}`,
	}
	deep := `{"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`
	deepOK := `{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`
	for _, c := range cases {
		checkAgainstProtojson(t, Apps, []byte(c.in), c.stricter)
	}
	for _, in := range enumCases {
		checkAgainstProtojson(t, APIProducts, []byte(in), false)
	}
	checkAgainstProtojson(t, Developers, []byte(deep), false)
	checkAgainstProtojson(t, Developers, []byte(deepOK), false)
}

// checkAgainstProtojson is the property FuzzDecodePage checks: same
// acceptance, equal messages; refusing what protojson accepts only in the
// documented ways.
func checkAgainstProtojson(t *testing.T, r Resource, in []byte, stricter bool) {
	t.Helper()
	got, _, err := fastDecode(r, in)
	want, werr := slowDecode(r, in)
	show := string(in)
	if len(show) > 80 {
		show = show[:80] + "..."
	}
	// The protoreflect path accepts and refuses exactly what the fast
	// path does, with the same errors and messages.
	refl, rerr := reflectDecode(r, in)
	switch {
	case (err == nil) != (rerr == nil):
		t.Errorf("%q: fast path says %v, protoreflect path %v", show, err, rerr)
	case err != nil && err.Error() != rerr.Error():
		t.Errorf("%q: fast path says %v, protoreflect path %v", show, err, rerr)
	case err == nil && !proto.Equal(got, refl):
		t.Errorf("%q: fast and protoreflect paths disagree:\nfast    %v\nreflect %v", show, got, refl)
	}
	switch {
	case werr == nil && err == nil:
		if !proto.Equal(got, want) {
			t.Errorf("%q: decoders disagree:\nfast     %v\nprotojson %v", show, got, want)
		}
	case werr == nil:
		se, ok := err.(*pagejson.SyntaxError)
		if !ok || !se.Stricter() {
			t.Errorf("%q: protojson accepts it, fast decoder says %v", show, err)
		} else if !stricter {
			t.Errorf("%q: unexpectedly stricter than protojson: %v", show, err)
		}
	case err == nil:
		t.Errorf("%q: fast decoder accepts what protojson refuses (%v)", show, werr)
	default:
		if stricter {
			t.Errorf("%q: expected protojson to accept it: %v", show, werr)
		}
		if _, ok := err.(*pagejson.SyntaxError); !ok {
			t.Errorf("%q: error %T is not a *SyntaxError: %v", show, err, err)
		}
	}
}

// FuzzDecodePage: the fast decoder never panics, and agrees with protojson
// on every input protojson accepts (and refuses what it refuses), for all
// three list responses.
func FuzzDecodePage(f *testing.F) {
	for _, r := range Resources() {
		b, _ := protojson.Marshal(wrap(r, genRecords(r, 2, 1)))
		f.Add(b)
	}
	f.Add([]byte(`{"app":[{"appId":"\ud83d\ude80","createdAt":"1e3","credentials":[{"apiProducts":[{}]}]}],"totalSize":1.0}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, r := range Resources() {
			got, _, err := fastDecode(r, in)
			want, werr := slowDecode(r, in)
			switch {
			case err == nil && werr == nil:
				if !proto.Equal(got, want) {
					t.Fatalf("%s: decoders disagree on %q", r, in)
				}
			case werr == nil:
				if se, ok := err.(*pagejson.SyntaxError); !ok || !se.Stricter() {
					t.Fatalf("%s: protojson accepts %q, fast decoder: %v", r, in, err)
				}
			case err == nil:
				t.Fatalf("%s: fast decoder accepts %q, protojson: %v", r, in, werr)
			}
		}
	})
}

// TestDecodeErrorOffset: a malformed page is reported with the byte offset
// where it goes wrong.
func TestDecodeErrorOffset(t *testing.T) {
	in := `{"developer":[{"email":"a@b"},{"email":"c@d",}]}`
	_, err := decodePage(Developers, []byte(in))
	se, ok := err.(*pagejson.SyntaxError)
	if !ok {
		t.Fatalf("got %v, want a *pagejson.SyntaxError", err)
	}
	if want := strings.Index(in, ",}") + 1; se.Offset != want {
		t.Errorf("offset %d, want %d (%v)", se.Offset, want, err)
	}
}

func appPage(n int) []byte {
	b, err := protojson.Marshal(wrap(Apps, genRecords(Apps, n, 42)))
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkDecodePage compares protojson.Unmarshal and the fast decoder on
// the same page of 1000 realistic apps.
func BenchmarkDecodePage(b *testing.B) {
	page := appPage(1000)
	if !utf8.Valid(page) {
		b.Fatal("page is not UTF-8")
	}
	b.Run("protojson", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			m := new(apigeepb.ListAppsResponse)
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(page, m); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "apps/s")
	})
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if _, err := decodePage(Apps, page); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "apps/s")
	})
}

// TestDecodeBenchmarkPage: the page BenchmarkDecodePage times decodes to
// the same 1000 apps both ways, so the benchmark compares equal work.
func TestDecodeBenchmarkPage(t *testing.T) {
	page := appPage(1000)
	got, _, err := fastDecode(Apps, page)
	if err != nil {
		t.Fatal(err)
	}
	want, err := slowDecode(Apps, page)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) || len(got.(*apigeepb.ListAppsResponse).GetApp()) != 1000 {
		t.Fatal("the benchmark page decodes differently")
	}
}

// TestDecodeErrorsHideContent: errors for malformed pages never quote the
// page (a consumerSecret would travel into logs, operation records and the
// polling API); they say where (byte offset, field path) and what kind of
// token was found. Every page below is malformed near a secret.
func TestDecodeErrorsHideContent(t *testing.T) {
	const secret = "s3cr3t"
	cases := []struct {
		in, path string
	}{
		{`{"app":[{"credentials":[{"consumerSecret":"s3cr3t\q"}]}]}`, "app[0].credentials[0].consumerSecret"},
		{`{"app":[{"credentials":[{"consumerSecret":"s3cr3t\u12s3cr3t"}]}]}`, "app[0].credentials[0].consumerSecret"},
		{`{"app":[{"credentials":[{"consumerSecret":"s3cr3t\ud83ds3cr3t"}]}]}`, "app[0].credentials[0].consumerSecret"},
		{"{\"app\":[{\"credentials\":[{\"consumerSecret\":\"s3cr3t\x01s3cr3t\"}]}]}", "app[0].credentials[0].consumerSecret"},
		{"{\"app\":[{\"credentials\":[{\"consumerSecret\":\"s3cr3t\xffs3cr3t\"}]}]}", "app[0].credentials[0].consumerSecret"},
		{`{"app":[{},{"credentials":[{},{"consumerSecret":s3cr3t}]}]}`, "app[1].credentials[1].consumerSecret"},
		{`{"app":[{"credentials":[{"consumerSecret":12s3cr3t}]}]}`, "app[0].credentials[0].consumerSecret"},
		{`{"app":[{"credentials":[{"consumerKey":"k" "s3cr3t"}]}]}`, "app[0].credentials[0]"},
		{`{"app":[{"credentials":[{"consumerKey" "s3cr3t"}]}]}`, "app[0].credentials[0]"},
		{`{"app":[{"credentials":[{"consumerSecret":"x"} "s3cr3t"]}]}`, "app[0].credentials"},
		{`{"app":[{"credentials":[{"issuedAt":"s3cr3t"}]}]}`, "app[0].credentials[0].issuedAt"},
		{`{"app":[{"newField":{"a":"s3cr3t\q"}}]}`, "app[0].(unknown field)"},
		{`{"app":[{"s3cr3t":s3cr3t}]}`, "app[0].(unknown field)"},
		{`{"app":[]} "s3cr3t"`, ""},
	}
	for _, c := range cases {
		_, err := decodePage(Apps, []byte(c.in))
		se, ok := err.(*pagejson.SyntaxError)
		if !ok {
			t.Errorf("%s: got %v, want a *pagejson.SyntaxError", c.in, err)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q quotes the page", c.in, err)
		}
		t.Log(err)
		if se.Path != c.path {
			t.Errorf("%s: path %q, want %q (%v)", c.in, se.Path, c.path, err)
		}
		if se.Offset <= 0 || se.Offset > len(c.in) {
			t.Errorf("%s: offset %d outside the page", c.in, se.Offset)
		}
	}
}

// TestPagePlansDirect: every Apigee page type, and every message type it
// reaches, is decoded by direct stores into its generated struct (the fast
// path), never through protoreflect. A field layout the fast path does not
// know (a new proto field of another kind, say) would silently make pages
// several times slower to decode; this test makes it loud instead.
func TestPagePlansDirect(t *testing.T) {
	for _, r := range Resources() {
		p := pagePlans[r]
		if p == nil {
			t.Fatalf("%s: no page plan", r)
		}
		if !p.Direct() {
			t.Errorf("%s: the page plan takes the protoreflect path, not direct stores", r)
		}
	}
}
