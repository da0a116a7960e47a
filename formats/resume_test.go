package formats_test

import (
	"bytes"
	stdcsv "encoding/csv"
	stdjson "encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"google.golang.org/protobuf/proto"

	"pubexport/formats"
	"pubexport/formats/internal/testrecords"
)

func resumeRecords() []proto.Message {
	var out []proto.Message
	for _, m := range testrecords.Fixed() {
		out = append(out, m)
	}
	for i := range 40 {
		out = append(out, testrecords.AppShaped(i))
	}
	return out
}

func encodeAll(t *testing.T, w io.Writer, f formats.Format, o formats.Options, records []proto.Message, flushAt map[int]bool) {
	t.Helper()
	enc, err := formats.NewEncoder(w, f, everything, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range records {
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
		if flushAt[int(o.Written)+i+1] {
			if err := enc.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestResumeIsByteIdentical checks the resume contract: encoding N records
// with a Flush after k gives the same bytes as encoding k, flushing,
// abandoning that encoder and continuing with a new encoder created with
// Written=k, for every text format, with and without gzip.
func TestResumeIsByteIdentical(t *testing.T) {
	records := resumeRecords()
	n := len(records)
	for _, f := range []formats.Format{formats.JSON, formats.NDJSON, formats.CSV} {
		for _, c := range []formats.Compression{formats.None, formats.Gzip} {
			for _, k := range []int{0, 1, 3, n - 1, n} {
				t.Run(fmt.Sprintf("%s/%s/k=%d", f, c, k), func(t *testing.T) {
					// Extra flush points before and after k must match too.
					flushAt := map[int]bool{k: true, 2: true, n - 2: true}
					var whole bytes.Buffer
					encodeAll(t, &whole, f, formats.Options{Compression: c}, records, flushAt)

					var resumed bytes.Buffer
					first, err := formats.NewEncoder(&resumed, f, everything, formats.Options{Compression: c})
					if err != nil {
						t.Fatal(err)
					}
					for i, m := range records[:k] {
						if err := first.Encode(m); err != nil {
							t.Fatal(err)
						}
						if flushAt[i+1] && i+1 != k {
							if err := first.Flush(); err != nil {
								t.Fatal(err)
							}
						}
					}
					if err := first.Flush(); err != nil {
						t.Fatal(err)
					}
					// first is abandoned here, as after a crash.
					encodeAll(t, &resumed, f, formats.Options{Compression: c, Written: int64(k)}, records[k:], flushAt)

					if !bytes.Equal(whole.Bytes(), resumed.Bytes()) {
						t.Fatalf("resumed output differs\nwhole:   %q\nresumed: %q", trim(whole.Bytes()), trim(resumed.Bytes()))
					}
					checkReadable(t, f, c, whole.Bytes(), n)
				})
			}
		}
	}
}

// checkReadable decodes the object with standard readers: gzip (all
// members), then one JSON array, n JSON lines, or a header and n CSV rows.
func checkReadable(t *testing.T, f formats.Format, c formats.Compression, data []byte, n int) {
	t.Helper()
	if c == formats.Gzip {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gunzip: %v", err)
		}
	}
	switch f {
	case formats.JSON:
		var elems []stdjson.RawMessage
		if err := stdjson.Unmarshal(data, &elems); err != nil || len(elems) != n {
			t.Fatalf("JSON array of %d: %v", len(elems), err)
		}
	case formats.NDJSON:
		if lines := strings.Count(string(data), "\n"); lines != n {
			t.Fatalf("%d lines", lines)
		}
	case formats.CSV:
		rows, err := stdcsv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil || len(rows) != n+1 {
			t.Fatalf("%d CSV rows: %v", len(rows), err)
		}
	}
}

func TestEmptyObjects(t *testing.T) {
	for _, c := range []struct {
		f    formats.Format
		comp formats.Compression
		want string
	}{
		{formats.JSON, formats.None, "[]\n"},
		{formats.NDJSON, formats.None, ""},
	} {
		var buf bytes.Buffer
		encodeAll(t, &buf, c.f, formats.Options{Compression: c.comp}, nil, nil)
		if buf.String() != c.want {
			t.Errorf("empty %s = %q; want %q", c.f, buf.String(), c.want)
		}
	}
	// An empty gzipped object is still a valid gzip file.
	var buf bytes.Buffer
	encodeAll(t, &buf, formats.NDJSON, formats.Options{Compression: formats.Gzip}, nil, nil)
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatalf("empty .ndjson.gz is not gzip: %v", err)
	}
	if b, err := io.ReadAll(zr); err != nil || len(b) != 0 {
		t.Fatalf("empty .ndjson.gz holds %q, %v", b, err)
	}
}

func TestNothingWrittenBeforeFirstEncode(t *testing.T) {
	for _, f := range []formats.Format{formats.JSON, formats.NDJSON, formats.CSV, formats.Parquet} {
		for _, c := range []formats.Compression{formats.None, formats.Gzip} {
			var buf bytes.Buffer
			enc, err := formats.NewEncoder(&buf, f, everything, formats.Options{Compression: c})
			if err != nil {
				t.Fatal(err)
			}
			if err := enc.Flush(); err != nil {
				t.Fatal(err)
			}
			if buf.Len() != 0 {
				t.Errorf("%s/%s wrote %d bytes before any record", f, c, buf.Len())
			}
		}
	}
}
