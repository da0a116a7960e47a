//go:build cgo

package bqcheck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	_ "github.com/duckdb/duckdb-go/v2"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/formats"
	"pubexport/formats/bqschema"
)

// duckType is the DuckDB type a BigQuery field loads as, with struct field
// names unquoted (compare with unquote(DuckDB's own spelling)).
func duckType(f bqschema.Field) string {
	var t string
	switch f.Type {
	case "STRING":
		t = "VARCHAR"
	case "INT64":
		t = "BIGINT"
	case "BOOL":
		t = "BOOLEAN"
	case "FLOAT64":
		t = "DOUBLE"
	case "BYTES":
		t = "BLOB"
	case "JSON":
		t = "JSON"
	case "NUMERIC":
		t = "DECIMAL(38,9)"
	case "RECORD":
		parts := make([]string, len(f.Fields))
		for i, c := range f.Fields {
			parts[i] = `"` + c.Name + `" ` + duckType(c)
		}
		t = "STRUCT(" + strings.Join(parts, ", ") + ")"
	default:
		t = "UNKNOWN " + f.Type
	}
	if f.Mode == bqschema.Repeated {
		t += "[]"
	}
	return t
}

func unquote(s string) string { return strings.ReplaceAll(s, `"`, "") }

// exportTo runs one export of the sample organization to dir and returns
// its manifest.
func exportTo(t *testing.T, emu *emulator.Server, r apigee.Resource, f formats.Format, c formats.Compression, dir string) export.Manifest {
	t.Helper()
	ctx := context.Background()
	client, err := apigee.NewClient(ctx, apigee.WithBaseURL(emu.URL), apigee.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	b, err := sink.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	run := &export.Runner{Source: export.FromClient(client), Bucket: b}
	if _, err := run.Run(ctx, export.Spec{Org: "acme", Resource: r, Format: f, Compression: c, Destination: dir}); err != nil {
		t.Fatal(err)
	}
	ms, err := export.ReadManifests(ctx, b, 1)
	if err != nil || len(ms) != 1 {
		t.Fatalf("manifests: %v %v", ms, err)
	}
	return ms[0]
}

// TestDuckDBReadsWithTheSchema: for every resource, NDJSON (plain and
// gzipped) and Parquet, the schema parses with the BigQuery client's
// reader, and DuckDB reads the exported objects with exactly its column
// names and types: Parquet as written (DESCRIBE), NDJSON with the schema's
// types imposed, losing no value that DuckDB's own detection finds.
func TestDuckDBReadsWithTheSchema(t *testing.T) {
	emu := exporttest.Emulator(t, emulator.Sample(), emulator.Options{})
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	for _, r := range apigee.Resources() {
		for _, c := range []struct {
			f formats.Format
			z formats.Compression
		}{{formats.NDJSON, formats.None}, {formats.NDJSON, formats.Gzip}, {formats.Parquet, formats.Zstd}} {
			t.Run(fmt.Sprintf("%s/%s/%s", r, c.f, c.z), func(t *testing.T) {
				dir := t.TempDir()
				m := exportTo(t, emu, r, c.f, c.z, dir)
				if m.BigQuerySchema == nil {
					t.Fatalf("the manifest lists no BigQuery schema: %+v", m)
				}
				raw, err := os.ReadFile(filepath.Join(dir, m.BigQuerySchema.Name))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := bigquery.SchemaFromJSON(raw); err != nil {
					t.Fatalf("bigquery.SchemaFromJSON: %v", err)
				}
				var fields []bqschema.Field
				if err := json.Unmarshal(raw, &fields); err != nil {
					t.Fatal(err)
				}
				want := make([]string, len(fields))
				for i, f := range fields {
					want[i] = f.Name + " " + unquote(duckType(f))
				}
				for _, o := range m.Objects {
					path := filepath.Join(dir, o.Name)
					var from string
					if c.f == formats.Parquet {
						from = fmt.Sprintf("read_parquet('%s')", path)
					} else {
						cols := make([]string, len(fields))
						for i, f := range fields {
							cols[i] = fmt.Sprintf("'%s': '%s'", f.Name, strings.ReplaceAll(duckType(f), "'", "''"))
						}
						from = fmt.Sprintf("read_json('%s', format='newline_delimited', columns={%s})", path, strings.Join(cols, ", "))
					}
					got := describe(t, db, from)
					if strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Errorf("%s: DuckDB reads\n  %s\nthe schema says\n  %s", o.Name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
					}
					var n int64
					if err := db.QueryRow("SELECT count(*) FROM " + from).Scan(&n); err != nil || n != o.Records {
						t.Errorf("%s: %d rows (%v), the manifest says %d", o.Name, n, err, o.Records)
					}
					if c.f == formats.NDJSON {
						sameValues(t, db, from, fmt.Sprintf("read_json_auto('%s', format='newline_delimited')", path), fields)
					}
				}
			})
		}
	}
}

// describe is DuckDB's "name type" for every column of from.
func describe(t *testing.T, db *sql.DB, from string) []string {
	t.Helper()
	rows, err := db.Query("DESCRIBE SELECT * FROM " + from)
	if err != nil {
		t.Fatalf("DuckDB cannot read %s: %v", from, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals[0])+" "+unquote(fmt.Sprint(vals[1])))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameValues checks that imposing the schema's types nulls out nothing:
// every top-level column DuckDB's own detection finds has as many values
// read with the schema's type.
func sameValues(t *testing.T, db *sql.DB, typed, auto string, fields []bqschema.Field) {
	t.Helper()
	detected := map[string]bool{}
	for _, line := range describe(t, db, auto) {
		name, _, _ := strings.Cut(line, " ")
		detected[name] = true
	}
	for name := range detected {
		found := false
		for _, f := range fields {
			found = found || f.Name == name
		}
		if !found {
			t.Errorf("the data has a column %s that the schema lacks", name)
		}
	}
	for _, f := range fields {
		if !detected[f.Name] {
			continue // no record has it
		}
		q := fmt.Sprintf(`SELECT (SELECT count("%[1]s") FROM %[2]s), (SELECT count("%[1]s") FROM %[3]s)`, f.Name, typed, auto)
		var a, b int64
		if err := db.QueryRow(q).Scan(&a, &b); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if a != b {
			t.Errorf("column %s: %d values with the schema's type %s, %d as detected", f.Name, a, f.Type, b)
		}
	}
}
