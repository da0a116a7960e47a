package csv_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"pubexport/formats/csv"
	"pubexport/formats/internal/testpb"
)

// FuzzCSVRoundTrip checks that any valid UTF-8 text survives a trip
// through our CSV and back through encoding/csv's reader, whatever commas,
// quotes, line ends or delimiters it holds. The seed corpus is in
// testdata/fuzz/FuzzCSVRoundTrip.
func FuzzCSVRoundTrip(f *testing.F) {
	f.Add("plain", "", byte(0))
	f.Add(`a,"b"`, "line\nbreak", byte(1))
	f.Add("\r\n\r", "tab\tand|pipe", byte(2))
	f.Add("ünïcødé ✓ 😀", "=1+2", byte(0))
	f.Fuzz(func(t *testing.T, a, b string, d byte) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return // refused with an error, tested elsewhere
		}
		delim := []rune{',', '|', '\t'}[int(d)%3]
		m := &testpb.Everything{Name: proto.String(a), Plain: b, Tags: []string{a}}
		rows := read(t, encode(t, everything, csv.Options{Delimiter: delim}, m, m), delim)
		if len(rows) != 3 {
			t.Fatalf("%d rows for 2 records: %q", len(rows), rows)
		}
		// encoding/csv's reader (not the CSV) turns \r\n inside a quoted
		// cell into \n; RFC 4180 readers keep it.
		wantA := strings.ReplaceAll(a, "\r\n", "\n")
		wantB := strings.ReplaceAll(b, "\r\n", "\n")
		for _, row := range rows[1:] {
			if row[0] != wantA || row[12] != wantB {
				t.Fatalf("round trip: got %q, %q; want %q, %q", row[0], row[12], wantA, wantB)
			}
		}
	})
}
