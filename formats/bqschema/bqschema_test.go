package bqschema_test

import (
	"testing"

	"cloud.google.com/go/bigquery"

	"pubexport/formats/bqschema"
	"pubexport/formats/internal/testpb"
)

// parse reads the schema with the BigQuery client library's reader, as a
// program (or the bq tool) would, and checks that every nested type is one
// BigQuery knows (SchemaFromJSON normalises only the top level).
func parse(t *testing.T, fields []bqschema.Field) bigquery.Schema {
	t.Helper()
	b, err := bqschema.JSON(fields)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bigquery.SchemaFromJSON(b)
	if err != nil {
		t.Fatalf("SchemaFromJSON: %v\n%s", err, b)
	}
	known := map[bigquery.FieldType]bool{
		bigquery.StringFieldType: true, bigquery.BytesFieldType: true, bigquery.IntegerFieldType: true,
		bigquery.FloatFieldType: true, bigquery.BooleanFieldType: true, bigquery.RecordFieldType: true,
		bigquery.NumericFieldType: true, bigquery.JSONFieldType: true,
		"INT64": true, "FLOAT64": true, "BOOL": true,
	}
	var walk func(bigquery.Schema)
	walk = func(s bigquery.Schema) {
		for _, f := range s {
			if !known[f.Type] {
				t.Errorf("field %s: type %q", f.Name, f.Type)
			}
			walk(f.Schema)
		}
	}
	walk(s)
	return s
}

func find(s bigquery.Schema, name string) *bigquery.FieldSchema {
	for _, f := range s {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func TestFor(t *testing.T) {
	md := (&testpb.Everything{}).ProtoReflect().Descriptor()
	for _, c := range []struct {
		style  bqschema.Style
		labels bigquery.FieldType
	}{{bqschema.NDJSON, bigquery.JSONFieldType}, {bqschema.Parquet, bigquery.RecordFieldType}} {
		s := parse(t, bqschema.For(md, c.style))
		if len(s) != md.Fields().Len() {
			t.Errorf("%d fields, want %d", len(s), md.Fields().Len())
		}
		want := map[string]struct {
			typ      bigquery.FieldType
			repeated bool
		}{
			"name": {bigquery.StringFieldType, false}, "count": {bigquery.IntegerFieldType, false},
			"small": {bigquery.IntegerFieldType, false}, "big": {bigquery.NumericFieldType, false},
			"flag": {bigquery.BooleanFieldType, false}, "ratio": {bigquery.FloatFieldType, false},
			"blob": {bigquery.BytesFieldType, false}, "color": {bigquery.StringFieldType, false},
			"child": {bigquery.RecordFieldType, false}, "children": {bigquery.RecordFieldType, true},
			"tags": {bigquery.StringFieldType, true}, "numbers": {bigquery.IntegerFieldType, true},
			"plainCount": {bigquery.IntegerFieldType, false},
			"labels":     {c.labels, c.style == bqschema.Parquet},
		}
		for name, w := range want {
			f := find(s, name)
			if f == nil {
				t.Errorf("style %d: no field %s", c.style, name)
				continue
			}
			if f.Type != w.typ || f.Repeated != w.repeated || (!f.Repeated && f.Required) {
				t.Errorf("style %d: %s is %s repeated=%v required=%v, want %s repeated=%v", c.style, name, f.Type, f.Repeated, f.Required, w.typ, w.repeated)
			}
		}
		gc := find(find(find(s, "children").Schema, "grandchildren").Schema, "weight")
		// Nested types keep the standard SQL name (SchemaFromJSON
		// normalises only the top level; BigQuery takes both).
		if gc == nil || gc.Type != "INT64" {
			t.Errorf("children.grandchildren.weight: %+v", gc)
		}
	}
}
