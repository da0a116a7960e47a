package formats_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"pubexport/formats"
	"pubexport/formats/field"
	"pubexport/formats/internal/testpb"
)

var everything = (&testpb.Everything{}).ProtoReflect().Descriptor()

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]formats.Format{"json": formats.JSON, "NDJSON": formats.NDJSON, "csv": formats.CSV, "Parquet": formats.Parquet} {
		if got, err := formats.ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "xml", "json.gz"} {
		_, err := formats.ParseFormat(in)
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Field != field.Format || fe.Value != in || !strings.Contains(err.Error(), "json, ndjson, csv, parquet") {
			t.Errorf("ParseFormat(%q) error = %v", in, err)
		}
	}
}

func TestContentTypesAndExtensions(t *testing.T) {
	cases := []struct {
		f                formats.Format
		c                formats.Compression
		contentType, ext string
		stored           string
		resumable        bool
	}{
		{formats.JSON, formats.None, "application/json", ".json", "application/json", true},
		{formats.JSON, formats.Gzip, "application/json", ".json.gz", "application/gzip", true},
		{formats.NDJSON, formats.None, "application/x-ndjson", ".ndjson", "application/x-ndjson", true},
		{formats.NDJSON, formats.Gzip, "application/x-ndjson", ".ndjson.gz", "application/gzip", true},
		{formats.CSV, formats.None, "text/csv", ".csv", "text/csv", true},
		{formats.CSV, formats.Gzip, "text/csv", ".csv.gz", "application/gzip", true},
		{formats.Parquet, formats.Zstd, "application/vnd.apache.parquet", ".parquet", "application/vnd.apache.parquet", false},
		{formats.Parquet, formats.Gzip, "application/vnd.apache.parquet", ".parquet", "application/vnd.apache.parquet", false},
	}
	for _, c := range cases {
		if got := c.f.ContentType(); got != c.contentType {
			t.Errorf("%s ContentType = %q", c.f, got)
		}
		if got := c.f.Extension(c.c); got != c.ext {
			t.Errorf("%s/%s Extension = %q; want %q", c.f, c.c, got, c.ext)
		}
		if got := c.c.ContentType(c.f); got != c.stored {
			t.Errorf("%s/%s stored ContentType = %q; want %q", c.f, c.c, got, c.stored)
		}
		if got := c.f.Resumable(); got != c.resumable {
			t.Errorf("%s Resumable = %v", c.f, got)
		}
	}
}

func TestParseCompression(t *testing.T) {
	ok := []struct {
		f    formats.Format
		in   string
		want formats.Compression
	}{
		{formats.JSON, "", formats.None}, {formats.CSV, "gzip", formats.Gzip}, {formats.NDJSON, "none", formats.None},
		{formats.Parquet, "", formats.Zstd}, {formats.Parquet, "snappy", formats.Snappy},
		{formats.Parquet, "GZIP", formats.Gzip}, {formats.Parquet, "none", formats.None},
	}
	for _, c := range ok {
		if got, err := formats.ParseCompression(c.f, c.in); err != nil || got != c.want {
			t.Errorf("ParseCompression(%s, %q) = %q, %v", c.f, c.in, got, err)
		}
	}
	bad := []struct {
		f  formats.Format
		in string
	}{{formats.JSON, "zstd"}, {formats.CSV, "snappy"}, {formats.Parquet, "lz4"}, {formats.NDJSON, "br"}}
	for _, c := range bad {
		_, err := formats.ParseCompression(c.f, c.in)
		var fe *field.Error
		if !errors.As(err, &fe) || fe.Field != field.Compression || fe.Value != c.in {
			t.Errorf("ParseCompression(%s, %q) error = %v", c.f, c.in, err)
		}
	}
}

func TestColumns(t *testing.T) {
	all := formats.Columns(formats.JSON, everything)
	if len(all) != 19 || all[0] != "name" || all[17] != "plainCount" || all[18] != "labels" {
		t.Errorf("JSON columns %v", all)
	}
	if got := formats.Columns(formats.Parquet, everything); !slices.Equal(got, all) {
		t.Errorf("Parquet columns %v", got)
	}
	csv := formats.Columns(formats.CSV, everything)
	if len(csv) != 14 || slices.Contains(csv, "children") || slices.Contains(csv, "labels") {
		t.Errorf("CSV columns %v", csv)
	}
}

func TestNewEncoderRefusals(t *testing.T) {
	// field is the user's value at fault, "" for a caller's mistake.
	cases := map[string]struct {
		f     formats.Format
		o     formats.Options
		field string
	}{
		"unknown format":    {"xml", formats.Options{}, field.Format},
		"zstd for json":     {formats.JSON, formats.Options{Compression: formats.Zstd}, field.Compression},
		"resumed parquet":   {formats.Parquet, formats.Options{Written: 3}, ""},
		"negative written":  {formats.CSV, formats.Options{Written: -1}, ""},
		"semicolon for csv": {formats.CSV, formats.Options{CSV: csvOptions(';')}, field.CSVDelimiter},
	}
	for name, c := range cases {
		_, err := formats.NewEncoder(&strings.Builder{}, c.f, everything, c.o)
		var fe *field.Error
		switch {
		case err == nil:
			t.Errorf("%s: no error", name)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%s: err = %v; want a *field.Error for %s", name, err, c.field)
		}
	}
}
