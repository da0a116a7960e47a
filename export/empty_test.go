package export_test

import (
	"bytes"
	"compress/gzip"
	"context"
	stdcsv "encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
	"pubexport/formats"
	"pubexport/formats/csv"
)

// TestEmptyResourceEveryFormat exports the resources of an organization
// that has none (the emulator, empty) in every format, compression and CSV
// dialect to a local folder and to Cloud Storage, and reads each object back:
// it must be a valid empty file of its format, published under the hash of
// its bytes, and the manifest must say 0 records.
func TestEmptyResourceEveryFormat(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newEnv(t, emulator.GenerateSpec{}, emulator.Options{})
	srv := gcstest.Start(t, "exports")
	type variant struct {
		f    formats.Format
		c    formats.Compression
		csv  csv.Options
		name string
	}
	var variants []variant
	for _, f := range []formats.Format{formats.JSON, formats.NDJSON, formats.CSV, formats.Parquet} {
		comps := []formats.Compression{formats.None, formats.Gzip}
		if f == formats.Parquet {
			comps = append(comps, formats.Zstd, formats.Snappy)
		}
		for _, c := range comps {
			variants = append(variants, variant{f: f, c: c, name: string(f) + "-" + string(c)})
			if f == formats.CSV {
				variants = append(variants, variant{f: f, c: c, csv: csv.Options{NoHeader: true}, name: string(f) + "-noheader-" + string(c)})
			}
		}
	}
	for _, r := range apigee.Resources() {
		for _, v := range variants {
			for _, where := range []string{"file", "gs"} {
				t.Run(string(r)+"/"+v.name+"/"+where, func(t *testing.T) {
					var b sink.Bucket
					var dest string
					var read func(name string) []byte
					if where == "file" {
						dir := t.TempDir()
						dest = "file://" + dir
						b = openLocal(t, dir)
						read = func(name string) []byte {
							body, err := os.ReadFile(filepath.Join(dir, name))
							if err != nil {
								t.Fatal(err)
							}
							return body
						}
					} else {
						prefix := string(r) + "/" + v.name
						dest = "gs://exports/" + prefix
						b = openGCS(t, srv, dest)
						read = func(name string) []byte {
							rd, err := srv.Client.Bucket("exports").Object(prefix + "/" + name).NewReader(context.Background())
							if err != nil {
								t.Fatal(err)
							}
							defer rd.Close()
							body, err := io.ReadAll(rd)
							if err != nil {
								t.Fatal(err)
							}
							return body
						}
					}
					spec := e.spec(r, v.f, dest)
					spec.Compression, spec.CSV = v.c, v.csv
					res, err := e.run(context.Background(), b, spec, nil)
					if err != nil {
						t.Fatal(err)
					}
					if res.Records != 0 || len(res.Objects) != 1 {
						t.Fatalf("records %d objects %d, want 0 records in 1 object", res.Records, len(res.Objects))
					}
					o := res.Objects[0]
					body := read(o.Name)
					if want := "ExportFinal_" + sha(body) + v.f.Extension(v.c); o.Name != want || o.Size != int64(len(body)) || o.Records != 0 {
						t.Fatalf("object %s (%d bytes, %d records); read back %d bytes hashing to %s", o.Name, o.Size, o.Records, len(body), want)
					}
					checkEmpty(t, r, v.f, v.c, v.csv, body)
					var m struct {
						Records int64 `json:"records"`
					}
					if err := json.Unmarshal(read(res.Manifest.Name), &m); err != nil || m.Records != 0 {
						t.Fatalf("manifest: records %d, %v", m.Records, err)
					}
				})
			}
		}
	}
}

// checkEmpty reads an object of no records with standard readers.
func checkEmpty(t *testing.T, r apigee.Resource, f formats.Format, c formats.Compression, o csv.Options, body []byte) {
	t.Helper()
	data := body
	if c == formats.Gzip && f != formats.Parquet {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("not a gzip file (%d bytes): %v", len(body), err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gunzip: %v", err)
		}
	}
	switch f {
	case formats.JSON:
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil || elems == nil || len(elems) != 0 {
			t.Fatalf("JSON %q: want an empty array (%v)", data, err)
		}
	case formats.NDJSON:
		if len(data) != 0 {
			t.Fatalf("NDJSON %q: want no bytes", data)
		}
	case formats.CSV:
		rows, err := stdcsv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if o.NoHeader {
			want = 0
			if len(data) != 0 {
				t.Fatalf("CSV without header %q: want no bytes", data)
			}
		}
		if len(rows) != want {
			t.Fatalf("CSV: %d rows, want %d", len(rows), want)
		}
	case formats.Parquet:
		names, cols := readParquet(t, data)
		if want := formats.Columns(f, r.Descriptor()); len(names) != len(want) || len(names) == 0 {
			t.Fatalf("parquet columns %v, want %v", names, want)
		}
		for n, vals := range cols {
			if len(vals) != 0 {
				t.Fatalf("parquet column %s has %d values, want 0 rows", n, len(vals))
			}
		}
	}
}
