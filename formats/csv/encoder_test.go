package csv_test

import (
	"bytes"
	stdcsv "encoding/csv"
	stdjson "encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/csv"
	"pubexport/formats/field"
	"pubexport/formats/internal/testpb"
	"pubexport/formats/internal/testrecords"
)

var everything = (&testpb.Everything{}).ProtoReflect().Descriptor()

func encode(t testing.TB, md protoreflect.MessageDescriptor, o csv.Options, records ...proto.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := csv.NewEncoder(&buf, md, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range records {
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func read(t testing.TB, data []byte, comma rune) [][]string {
	t.Helper()
	r := stdcsv.NewReader(bytes.NewReader(data))
	r.Comma = comma
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv cannot read our output: %v\n%s", err, data)
	}
	return rows
}

func TestColumnsAreScalarFieldsInDeclarationOrder(t *testing.T) {
	want := []string{"name", "count", "small", "big", "usmall", "signed", "fixed", "flag",
		"ratio", "fraction", "blob", "color", "plain", "plainCount"}
	if got := csv.Columns(everything); !slices.Equal(got, want) {
		t.Fatalf("Columns = %v\nwant      %v", got, want)
	}
}

// protojsonCells is the oracle: each column's cell is the protojson value
// of the field, unquoted if it is a JSON string, empty if protojson omits
// the field.
func protojsonCells(t *testing.T, m proto.Message) []string {
	raw, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]stdjson.RawMessage
	if err := stdjson.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	var cells []string
	for _, col := range csv.Columns(m.ProtoReflect().Descriptor()) {
		v, ok := obj[col]
		switch {
		case !ok:
			cells = append(cells, "")
		case v[0] == '"':
			var s string
			if err := stdjson.Unmarshal(v, &s); err != nil {
				t.Fatal(err)
			}
			cells = append(cells, s)
		default:
			cells = append(cells, string(v))
		}
	}
	return cells
}

func TestCellsAreProtojsonValues(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	records := []proto.Message{}
	for _, m := range testrecords.Fixed() {
		records = append(records, m)
	}
	for range 1000 {
		records = append(records, testrecords.Random(r))
	}
	rows := read(t, encode(t, everything, csv.Options{}, records...), ',')
	if !slices.Equal(rows[0], csv.Columns(everything)) {
		t.Fatalf("header %v", rows[0])
	}
	rows = rows[1:]
	if len(rows) != len(records) {
		t.Fatalf("%d rows, want %d", len(rows), len(records))
	}
	for i, m := range records {
		want := protojsonCells(t, m)
		// encoding/csv's reader turns \r\n inside quoted cells into \n.
		for j := range want {
			want[j] = strings.ReplaceAll(want[j], "\r\n", "\n")
		}
		if !slices.Equal(rows[i], want) {
			t.Fatalf("row %d\n got %q\nwant %q", i, rows[i], want)
		}
	}
}

func TestDelimiters(t *testing.T) {
	m := &testpb.Everything{Name: proto.String("a,b|c\td"), Count: proto.Int64(5)}
	for _, d := range []rune{0, ',', '|', '\t'} {
		comma := d
		if comma == 0 {
			comma = ','
		}
		rows := read(t, encode(t, everything, csv.Options{Delimiter: d}, m), comma)
		if rows[1][0] != "a,b|c\td" || rows[1][1] != "5" {
			t.Errorf("delimiter %q: row %q", d, rows[1])
		}
	}
	for _, d := range []rune{';', '"', '\n', 'x'} {
		_, err := csv.NewEncoder(&bytes.Buffer{}, everything, csv.Options{Delimiter: d}, 0)
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Field != field.CSVDelimiter || fe.Value != string(d) {
			t.Errorf("delimiter %q: err = %v; want a *field.Error for the CSV delimiter", d, err)
		}
	}
}

func TestNoHeaderAndEmptyObjects(t *testing.T) {
	m := &testpb.Everything{Name: proto.String("x")}
	if got := string(encode(t, everything, csv.Options{NoHeader: true}, m)); got != "x,,,,,,,,,,,,,\n" {
		t.Errorf("NoHeader row = %q", got)
	}
	if got := string(encode(t, everything, csv.Options{})); got != strings.Join(csv.Columns(everything), ",")+"\n" {
		t.Errorf("empty object = %q; want just the header", got)
	}
	if got := encode(t, everything, csv.Options{NoHeader: true}); len(got) != 0 {
		t.Errorf("empty object without header = %q", got)
	}
}

func TestGuardFormulas(t *testing.T) {
	cases := map[string]string{
		"=SUM(A1)": "'=SUM(A1)", "+1": "'+1", "-1": "'-1", "@x": "'@x", "\tx": "'\tx", "\rx": "'\rx",
		"plain": "plain", "": "", "a=b": "a=b",
	}
	for in, want := range cases {
		m := &testpb.Everything{Name: proto.String(in), Small: proto.Int32(-5), Blob: []byte{0xfb, 0xef}}
		rows := read(t, encode(t, everything, csv.Options{GuardFormulas: true, NoHeader: true}, m), ',')
		if rows[0][0] != want {
			t.Errorf("guarded %q = %q; want %q", in, rows[0][0], want)
		}
		if rows[0][2] != "-5" {
			t.Errorf("numbers must not be guarded: %q", rows[0][2])
		}
		if rows[0][10] != "'++8=" {
			t.Errorf("bytes cell %q; base64 starting with + must be guarded", rows[0][10])
		}
		unguarded := read(t, encode(t, everything, csv.Options{NoHeader: true}, m), ',')
		if unguarded[0][0] != in {
			t.Errorf("without GuardFormulas %q became %q", in, unguarded[0][0])
		}
	}
}

func TestInvalidUTF8IsRefusedNamingTheField(t *testing.T) {
	var buf bytes.Buffer
	enc, err := csv.NewEncoder(&buf, everything, csv.Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = enc.Encode(&testpb.Everything{Plain: "bad\xff"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "pubexport.formats.test.Everything.plain") {
		t.Fatalf("err = %v", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if rows := read(t, buf.Bytes(), ','); len(rows) != 1 {
		t.Fatalf("the bad row was written: %q", rows)
	}
}

func TestAppsFromJSONFile(t *testing.T) {
	apps, md, err := testrecords.Apps()
	if err != nil {
		t.Fatal(err)
	}
	rows := read(t, encode(t, md, csv.Options{}, apps...), ',')
	wantHeader := []string{"appId", "callbackUrl", "createdAt", "developerId", "keyExpiresIn", "lastModifiedAt", "name", "status"}
	if !slices.Equal(rows[0], wantHeader) {
		t.Fatalf("header %q", rows[0])
	}
	if got := rows[1]; got[2] != "1700000000123" || got[4] != "-1" || got[1] != "https://weather.example.com/oauth/callback?x=1&y=2" {
		t.Errorf("first app row %q", got)
	}
	if got := rows[2][6]; got != `=HYPERLINK("http://evil.example","click")` {
		t.Errorf("name cell %q", got)
	}
	if got := rows[3][2]; got != "" {
		t.Errorf("unset createdAt = %q; want an empty cell", got)
	}
}
