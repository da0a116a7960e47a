package parquet_test

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/field"
	"pubexport/formats/internal/testpb"
	"pubexport/formats/internal/testrecords"
	"pubexport/formats/parquet"
)

var everything = (&testpb.Everything{}).ProtoReflect().Descriptor()

func encode(t testing.TB, md protoreflect.MessageDescriptor, o parquet.Options, records []proto.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := parquet.NewEncoder(&buf, md, o)
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

// readBack reads data with arrow-go, an independent implementation, and
// returns the file's row group count, top-level column names and rows.
func readBack(t *testing.T, data []byte) (int, []string, []map[string]any) {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("arrow-go cannot open the file: %v", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	table, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("arrow-go cannot read the file: %v", err)
	}
	defer table.Release()
	rows := make([]map[string]any, table.NumRows())
	for i := range rows {
		rows[i] = map[string]any{}
	}
	var names []string
	for c := range int(table.NumCols()) {
		col := table.Column(c)
		names = append(names, col.Name())
		row := 0
		for _, chunk := range col.Data().Chunks() {
			for i := range chunk.Len() {
				rows[row][col.Name()] = arrowValue(chunk, i)
				row++
			}
		}
	}
	return pf.NumRowGroups(), names, rows
}

// bytesValue keeps bytes apart from strings, and empty apart from null.
type bytesValue string

func float(f float64) any {
	if math.IsNaN(f) {
		return "NaN" // NaN != NaN would fail any comparison
	}
	return f
}

func arrowValue(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Uint32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Uint64:
		return a.Value(i)
	case *array.Float32:
		if math.IsNaN(float64(a.Value(i))) {
			return "NaN"
		}
		return a.Value(i)
	case *array.Float64:
		return float(a.Value(i))
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return bytesValue(a.Value(i))
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		out := map[string]any{}
		for f := range a.NumField() {
			out[st.Field(f).Name] = arrowValue(a.Field(f), i)
		}
		return out
	case *array.Map:
		start, end := a.ValueOffsets(i)
		out := []any{}
		for j := start; j < end; j++ {
			out = append(out, [2]any{arrowValue(a.Keys(), int(j)), arrowValue(a.Items(), int(j))})
		}
		return out
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := []any{}
		for j := start; j < end; j++ {
			out = append(out, arrowValue(a.ListValues(), int(j)))
		}
		return out
	}
	panic(fmt.Sprintf("unexpected arrow type %s", a.DataType()))
}

// expect is what the schema mapping promises for m, built from the
// message with protoreflect (and protojson for JSON-text columns).
func expect(t *testing.T, m protoreflect.Message, path []protoreflect.FullName) map[string]any {
	path = append(path, m.Descriptor().FullName())
	out := map[string]any{}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		var v any
		switch {
		case fd.IsList():
			l := m.Get(fd).List()
			elems := []any{}
			for j := range l.Len() {
				elems = append(elems, expectValue(t, fd, l.Get(j), path))
			}
			v = elems
		case fd.IsMap():
			mp := m.Get(fd).Map()
			var keys []string
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k.String())
				return true
			})
			slices.Sort(keys)
			pairs := []any{}
			for _, k := range keys {
				pairs = append(pairs, [2]any{k, expectValue(t, fd.MapValue(), mp.Get(protoreflect.ValueOfString(k).MapKey()), path)})
			}
			v = pairs
		case fd.HasPresence() && !m.Has(fd):
			v = nil
		default:
			v = expectValue(t, fd, m.Get(fd), path)
		}
		out[fd.JSONName()] = v
	}
	return out
}

func expectValue(t *testing.T, fd protoreflect.FieldDescriptor, v protoreflect.Value, path []protoreflect.FullName) any {
	switch fd.Kind() {
	case protoreflect.MessageKind:
		md := fd.Message()
		if md.FullName().Parent() == "google.protobuf" || slices.Contains(path, md.FullName()) {
			raw, err := protojson.Marshal(v.Message().Interface())
			if err != nil {
				t.Fatal(err)
			}
			var c bytes.Buffer
			if err := stdjson.Compact(&c, raw); err != nil {
				t.Fatal(err)
			}
			return c.String()
		}
		return expect(t, v.Message(), path)
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return int32(v.Int())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return uint32(v.Uint())
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int()
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint()
	case protoreflect.FloatKind:
		if math.IsNaN(v.Float()) {
			return "NaN"
		}
		return float32(v.Float())
	case protoreflect.DoubleKind:
		return float(v.Float())
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return bytesValue(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	}
	t.Fatalf("unexpected kind %s", fd.Kind())
	return nil
}

func checkRows(t *testing.T, records []proto.Message, rows []map[string]any) {
	t.Helper()
	if len(rows) != len(records) {
		t.Fatalf("%d rows, want %d", len(rows), len(records))
	}
	for i, m := range records {
		want := expect(t, m.ProtoReflect(), nil)
		if !reflect.DeepEqual(rows[i], want) {
			t.Fatalf("row %d\n got %#v\nwant %#v", i, rows[i], want)
		}
	}
}

func TestEveryValueReadsBackWithArrow(t *testing.T) {
	var records []proto.Message
	for _, m := range testrecords.Fixed() {
		records = append(records, m)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		records = append(records, testrecords.Random(r))
	}
	for _, c := range []string{"", "zstd", "snappy", "gzip", "none"} {
		t.Run("compression="+c, func(t *testing.T) {
			data := encode(t, everything, parquet.Options{Compression: c, MaxRowsPerRowGroup: 128}, records)
			groups, names, rows := readBack(t, data)
			if want := (len(records) + 127) / 128; groups != want {
				t.Errorf("%d row groups; want %d of at most 128 rows", groups, want)
			}
			wantNames := []string{"name", "count", "small", "big", "usmall", "signed", "fixed", "flag", "ratio",
				"fraction", "blob", "color", "child", "children", "tags", "numbers", "plain", "plainCount", "labels"}
			if !slices.Equal(names, wantNames) {
				t.Fatalf("columns %v\nwant    %v (proto declaration order)", names, wantNames)
			}
			checkRows(t, records, rows)
		})
	}
}

func TestSchemaMapping(t *testing.T) {
	enc, err := parquet.NewEncoder(&bytes.Buffer{}, everything, parquet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := enc.Schema().String()
	for _, want := range []string{
		"optional binary name (STRING);",
		"optional int64 count (INT(64,true));",
		"optional int64 big (INT(64,false));",
		"optional binary color (STRING);",
		"optional group child {",
		"required group children (LIST) {",
		"repeated group list {",
		"required group element {",
		"required group grandchildren (LIST) {",
		"required binary plain (STRING);",
		"required int64 plainCount (INT(64,true));",
		"required group labels (MAP) {",
		"repeated group key_value {",
		"required binary key (STRING);",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("schema lacks %q:\n%s", want, s)
		}
	}
}

func TestAppsFromJSONFile(t *testing.T) {
	apps, md, err := testrecords.Apps()
	if err != nil {
		t.Fatal(err)
	}
	_, names, rows := readBack(t, encode(t, md, parquet.Options{}, apps))
	if names[0] != "apiProducts" || names[len(names)-1] != "status" {
		t.Errorf("columns %v", names)
	}
	checkRows(t, apps, rows)
	creds := rows[0]["credentials"].([]any)
	first := creds[0].(map[string]any)
	if first["consumerKey"] != "Xk3v9QpL7YtR2mNsW8bZ4cA1" || first["expiresAt"] != int64(-1) {
		t.Errorf("first credential %v", first)
	}
	if products := first["apiProducts"].([]any); len(products) != 1 {
		t.Errorf("nested list of structs %v", products)
	}
}

func TestWellKnownAndRecursiveTypesAreJSONText(t *testing.T) {
	events, md, err := testrecords.Events()
	if err != nil {
		t.Fatal(err)
	}
	_, _, rows := readBack(t, encode(t, md, parquet.Options{}, events))
	checkRows(t, events, rows)
	if got := rows[0]["at"]; got != `"2024-01-02T03:04:05.123Z"` {
		t.Errorf("timestamp column = %#v", got)
	}
	if got := rows[0]["parent"]; got != `{"name":"root","at":"1970-01-01T00:00:00Z"}` {
		t.Errorf("recursive field = %#v", got)
	}
}

func TestWritesNothingBeforeFirstEncodeAndEmptyFileIsValid(t *testing.T) {
	var buf bytes.Buffer
	enc, err := parquet.NewEncoder(&buf, everything, parquet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %d bytes before any record", buf.Len())
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, rows := readBack(t, buf.Bytes())
	if len(rows) != 0 {
		t.Fatalf("%d rows in an empty file", len(rows))
	}
}

func TestRefusals(t *testing.T) {
	if _, err := parquet.NewEncoder(&bytes.Buffer{}, everything, parquet.Options{Compression: "lz4"}); !isFieldError(err, field.Compression) {
		t.Errorf("unknown codec: %v", err)
	}
	enc, err := parquet.NewEncoder(&bytes.Buffer{}, everything, parquet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = enc.Encode(&testpb.Everything{Children: []*testpb.Child{{Key: proto.String("\xff")}}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "pubexport.formats.test.Child.key") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if err := enc.Encode(&testpb.Child{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("wrong type: %v", err)
	}
}

// TestByteCapEndsRowGroups: a small byte cap makes several row groups, and
// an independent reader (arrow-go) reads every value of every record back
// across them, nested and repeated fields included, in every codec.
func TestByteCapEndsRowGroups(t *testing.T) {
	var records []proto.Message
	for i := range 4000 {
		records = append(records, testrecords.AppShaped(i))
	}
	for _, c := range []string{"zstd", "none"} {
		t.Run("compression="+c, func(t *testing.T) {
			groups, _, rows := readBack(t, encode(t, everything, parquet.Options{Compression: c, MaxRowGroupBytes: 4 << 10}, records))
			if groups < 3 {
				t.Errorf("%d row groups for ~2 MB of values with a 4 KiB cap", groups)
			}
			checkRows(t, records, rows)
		})
	}
}

func isFieldError(err error, name string) bool {
	var fe *field.Error
	return errors.As(err, &fe) && fe.Field == name
}
