package json_test

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"pubexport/formats/internal/testpb"
	"pubexport/formats/internal/testrecords"
	"pubexport/formats/json"
)

// compactProtojson is the reference: protojson's bytes without the random
// optional whitespace it adds.
func compactProtojson(t testing.TB, m proto.Message) []byte {
	t.Helper()
	raw, err := protojson.Marshal(m)
	if err != nil {
		t.Fatalf("protojson.Marshal: %v", err)
	}
	var out bytes.Buffer
	if err := stdjson.Compact(&out, raw); err != nil {
		t.Fatalf("json.Compact: %v", err)
	}
	return out.Bytes()
}

func checkSame(t *testing.T, j *json.Marshaler, m proto.Message) []byte {
	t.Helper()
	got, err := j.Append(nil, m.ProtoReflect())
	if err != nil {
		t.Fatalf("Append(%v): %v", m, err)
	}
	if want := compactProtojson(t, m); !bytes.Equal(got, want) {
		t.Fatalf("Append differs from protojson\n got: %s\nwant: %s", got, want)
	}
	return got
}

func TestMarshalerMatchesProtojsonOnRandomMessages(t *testing.T) {
	var j json.Marshaler
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		m := testrecords.Random(r)
		got := checkSame(t, &j, m)
		// And it reads back as the same message.
		back := &testpb.Everything{}
		if err := protojson.Unmarshal(got, back); err != nil {
			t.Fatalf("protojson.Unmarshal(%s): %v", got, err)
		}
		if !proto.Equal(m, back) {
			t.Fatalf("round trip changed the message\n in: %v\nout: %v", m, back)
		}
	}
}

func TestMarshalerMatchesProtojsonOnFixedAndAppShaped(t *testing.T) {
	var j json.Marshaler
	for _, m := range testrecords.Fixed() {
		checkSame(t, &j, m)
	}
	for i := range 50 {
		checkSame(t, &j, testrecords.AppShaped(i))
	}
}

func TestMarshalerOnDynamicMessages(t *testing.T) {
	apps, _, err := testrecords.Apps()
	if err != nil {
		t.Fatal(err)
	}
	events, _, err := testrecords.Events()
	if err != nil {
		t.Fatal(err)
	}
	var j json.Marshaler
	for _, m := range append(apps, events...) {
		got := checkSame(t, &j, m)
		back := dynamicpb.NewMessage(m.ProtoReflect().Descriptor())
		if err := protojson.Unmarshal(got, back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", got, err)
		}
		if !proto.Equal(m, back) {
			t.Fatalf("round trip changed %s", got)
		}
	}
	// The well-known types are in their special JSON forms.
	got, _ := j.Append(nil, events[0].ProtoReflect())
	for _, want := range []string{`"at":"2024-01-02T03:04:05.123Z"`, `"details":{"by":"ops","n":3,`, `"parent":{"name":"root","at":"1970-01-01T00:00:00Z"}`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("%s lacks %s", got, want)
		}
	}
}

func TestMarshalerIsDeterministic(t *testing.T) {
	// Maps iterate in random order; the bytes must not.
	m := &testpb.Everything{Labels: map[string]string{}}
	for i := range 50 {
		m.Labels[strings.Repeat("k", i%7)+string(rune('a'+i%26))] = "v"
	}
	var j json.Marshaler
	first, err := j.Append(nil, m.ProtoReflect())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, _ := j.Append(nil, m.ProtoReflect())
		if !bytes.Equal(first, again) {
			t.Fatalf("two encodings differ:\n%s\n%s", first, again)
		}
	}
}

func TestMarshalerRefusesInvalidUTF8NamingTheField(t *testing.T) {
	cases := map[string]*testpb.Everything{
		"pubexport.formats.test.Everything.name":              {Name: proto.String("ok\xffbad")},
		"pubexport.formats.test.Grandchild.methods":           {Children: []*testpb.Child{{Grandchildren: []*testpb.Grandchild{{Methods: []string{"\xc3"}}}}}},
		"pubexport.formats.test.Everything.labels":            {Labels: map[string]string{"\xff": "v"}},
		"pubexport.formats.test.Everything.LabelsEntry.value": {Labels: map[string]string{"k": "\xfe"}},
	}
	var j json.Marshaler
	for field, m := range cases {
		if _, err := protojson.Marshal(m); err == nil {
			t.Fatalf("protojson accepts %v; the test is wrong", m)
		}
		prefix := []byte("keep")
		got, err := j.Append(prefix, m.ProtoReflect())
		var bad *json.InvalidUTF8Error
		if !errors.As(err, &bad) || string(bad.Field) != field {
			t.Errorf("Append(%v) error = %v; want InvalidUTF8Error for %s", m, err, field)
		}
		if string(got) != "keep" {
			t.Errorf("Append left %q after an error; want the input unchanged", got)
		}
	}
}
