package formats_test

import (
	"io"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/formats"
	"pubexport/formats/internal/testrecords"
)

// BenchmarkEncoders reports records/s and allocs/op for every format and
// compression through the public NewEncoder, next to protojson.Marshal of
// the same app-shaped (~1 KB) messages as the baseline.
func BenchmarkEncoders(b *testing.B) {
	records := make([]proto.Message, 1000)
	for i := range records {
		records[i] = testrecords.AppShaped(i)
	}
	b.Run("baseline=protojson.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if _, err := protojson.Marshal(records[n%len(records)]); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	})
	cases := []struct {
		f formats.Format
		c formats.Compression
	}{
		{formats.JSON, formats.None}, {formats.JSON, formats.Gzip},
		{formats.NDJSON, formats.None}, {formats.NDJSON, formats.Gzip},
		{formats.CSV, formats.None}, {formats.CSV, formats.Gzip},
		{formats.Parquet, formats.Zstd}, {formats.Parquet, formats.Snappy},
	}
	for _, c := range cases {
		b.Run(string(c.f)+"/"+string(c.c), func(b *testing.B) {
			enc, err := formats.NewEncoder(io.Discard, c.f, everything, formats.Options{Compression: c.c})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if err := enc.Encode(records[n%len(records)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if err := enc.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
