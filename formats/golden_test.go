package formats_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"pubexport/formats"
	csvformat "pubexport/formats/csv"
	"pubexport/formats/internal/testrecords"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func csvOptions(d rune) csvformat.Options { return csvformat.Options{Delimiter: d} }

// TestGolden pins the exact bytes of every format for the fixed records:
// a change in output (which would break resumed objects and digests) has
// to be made on purpose, with go test ./formats -run TestGolden -update.
func TestGolden(t *testing.T) {
	cases := []struct {
		file string
		f    formats.Format
		o    formats.Options
	}{
		{"fixed.json", formats.JSON, formats.Options{}},
		{"fixed.ndjson", formats.NDJSON, formats.Options{}},
		{"fixed.csv", formats.CSV, formats.Options{}},
		{"fixed-guarded.tsv", formats.CSV, formats.Options{CSV: csvformat.Options{Delimiter: '\t', GuardFormulas: true}}},
		{"fixed.json.gz", formats.JSON, formats.Options{Compression: formats.Gzip}},
		{"fixed.parquet", formats.Parquet, formats.Options{}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			var buf bytes.Buffer
			enc, err := formats.NewEncoder(&buf, c.f, everything, c.o)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range testrecords.Fixed() {
				if err := enc.Encode(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.file)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s changed (run with -update if intended)\n got: %q\nwant: %q", c.file, trim(buf.Bytes()), trim(want))
			}
		})
	}
}

func trim(b []byte) []byte {
	if len(b) > 600 {
		return b[:600]
	}
	return b
}
