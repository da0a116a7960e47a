package export_test

import (
	"bytes"
	"context"
	stdcsv "encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/formats"
)

// TestRoundTripEveryFormat exports every resource of a generated
// organization (unicode, commas, quotes, newlines, revoked apps, every
// operation group) in every format and reads each file back with an
// independent reader: protojson for NDJSON, encoding/csv for CSV (each cell
// must be protojson's text for that field) and arrow-go for Parquet (every
// top-level scalar column, nulls included, in proto field order).
func TestRoundTripEveryFormat(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newEnv(t, emulator.GenerateSpec{Developers: 1500, Apps: 1200, APIProducts: 300, Seed: 41}, emulator.Options{})
	org := e.data.Orgs[0]
	for _, r := range apigee.Resources() {
		want := sourceRecords(r, org)
		byKey := map[string]proto.Message{}
		for _, w := range want {
			byKey[r.Key(w)] = w
		}
		export := func(t *testing.T, f formats.Format) []byte {
			dir := t.TempDir()
			res, err := e.run(context.Background(), openLocal(t, dir), e.spec(r, f, "file://"+dir), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(filepath.Join(dir, res.Objects[0].Name))
			if err != nil {
				t.Fatal(err)
			}
			return body
		}
		t.Run(string(r)+"/ndjson", func(t *testing.T) {
			lines := strings.Split(strings.TrimSuffix(string(export(t, formats.NDJSON)), "\n"), "\n")
			if len(want) == 0 {
				lines = nil
			}
			if len(lines) != len(want) {
				t.Fatalf("%d lines, want %d", len(lines), len(want))
			}
			for i, l := range lines {
				got := r.New()
				if err := protojson.Unmarshal([]byte(l), got); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				if w := byKey[r.Key(got)]; !proto.Equal(got, w) {
					t.Fatalf("line %d (%s) differs from the source", i+1, r.Key(got))
				}
			}
		})
		t.Run(string(r)+"/csv", func(t *testing.T) {
			rows, err := stdcsv.NewReader(bytes.NewReader(export(t, formats.CSV))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			header := formats.Columns(formats.CSV, r.Descriptor())
			if len(rows) != len(want)+1 || strings.Join(rows[0], ",") != strings.Join(header, ",") {
				t.Fatalf("%d rows with header %v, want %d records under %v", len(rows), rows[0], len(want), header)
			}
			keyCol := columnIndex(t, header, keyField(r))
			for i, row := range rows[1:] {
				w := byKey[row[keyCol]]
				if w == nil {
					t.Fatalf("row %d: no source record with key %q", i+2, row[keyCol])
				}
				text := protojsonTexts(t, w)
				for c, name := range header {
					if row[c] != text[name] {
						t.Fatalf("row %d (%s) column %s = %q, protojson says %q", i+2, row[keyCol], name, row[c], text[name])
					}
				}
			}
		})
		t.Run(string(r)+"/parquet", func(t *testing.T) {
			names, cols := readParquet(t, export(t, formats.Parquet))
			md := r.Descriptor()
			var fields []string
			for i := range md.Fields().Len() {
				fields = append(fields, md.Fields().Get(i).JSONName())
			}
			if strings.Join(names, ",") != strings.Join(fields, ",") {
				t.Fatalf("columns %v, want the proto fields in order %v", names, fields)
			}
			keys := cols[keyField(r)]
			if len(keys) != len(want) {
				t.Fatalf("%d rows, want %d", len(keys), len(want))
			}
			for i := range keys {
				w := byKey[fmt.Sprint(keys[i])]
				if w == nil {
					t.Fatalf("row %d: no source record with key %v", i, keys[i])
				}
				m := w.ProtoReflect()
				for j := range md.Fields().Len() {
					fd := md.Fields().Get(j)
					if fd.IsList() || fd.Kind() == protoreflect.MessageKind {
						continue // nested values are compared by formats/parquet's own tests
					}
					var wantV any
					if m.Has(fd) {
						wantV = scalar(fd, m.Get(fd))
					}
					if got := cols[fd.JSONName()][i]; got != wantV {
						t.Fatalf("row %d (%v) column %s = %v, source %v", i, keys[i], fd.JSONName(), got, wantV)
					}
				}
			}
		})
	}
}

// sourceRecords is what an export of r must hold: the emulator's records,
// consumer secrets redacted.
func sourceRecords(r apigee.Resource, org *emulator.Org) []proto.Message {
	var out []proto.Message
	switch r {
	case apigee.Developers:
		for _, d := range org.Developers {
			out = append(out, d)
		}
	case apigee.Apps:
		for _, a := range org.Apps {
			a = proto.Clone(a).(*apigeepb.App)
			for _, c := range a.Credentials {
				c.ConsumerSecret = nil
			}
			out = append(out, a)
		}
	case apigee.APIProducts:
		for _, p := range org.APIProducts {
			out = append(out, p)
		}
	}
	return out
}

func keyField(r apigee.Resource) string {
	switch r {
	case apigee.Developers:
		return "email"
	case apigee.Apps:
		return "appId"
	default:
		return "name"
	}
}

func columnIndex(t *testing.T, header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	t.Fatalf("no column %s in %v", name, header)
	return -1
}

// protojsonTexts is protojson's text for each top-level scalar of m: JSON
// strings unquoted, numbers and bools as written.
func protojsonTexts(t *testing.T, m proto.Message) map[string]string {
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

// scalar is the value arrow-go reads for a scalar field: strings (enums by
// name), int64, int32 or bool.
func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return string(fd.Enum().Values().ByNumber(v.Enum()).Name())
	case protoreflect.Int64Kind:
		return v.Int()
	case protoreflect.Int32Kind:
		return int32(v.Int())
	case protoreflect.BoolKind:
		return v.Bool()
	default:
		return v.String()
	}
}

// readParquet reads a file with arrow-go and returns its top-level column
// names and, for scalar columns, their values (nil for null).
func readParquet(t *testing.T, data []byte) ([]string, map[string][]any) {
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
	var names []string
	cols := map[string][]any{}
	for c := range int(table.NumCols()) {
		col := table.Column(c)
		names = append(names, col.Name())
		for _, chunk := range col.Data().Chunks() {
			for i := range chunk.Len() {
				var v any
				if !chunk.IsNull(i) {
					switch a := chunk.(type) {
					case *array.String:
						v = a.Value(i)
					case *array.Int64:
						v = a.Value(i)
					case *array.Int32:
						v = a.Value(i)
					case *array.Boolean:
						v = a.Value(i)
					case *array.Binary:
						v = string(a.Value(i))
					default:
						v = chunk.DataType().ID() == arrow.LIST
					}
				}
				cols[col.Name()] = append(cols[col.Name()], v)
			}
		}
	}
	return names, cols
}
