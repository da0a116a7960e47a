package parquet_test

import (
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	"pubexport/formats/internal/testrecords"
	"pubexport/formats/parquet"
)

func BenchmarkEncoder(b *testing.B) {
	records := make([]proto.Message, 1000)
	for i := range records {
		records[i] = testrecords.AppShaped(i)
	}
	enc, err := parquet.NewEncoder(io.Discard, everything, parquet.Options{})
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
}
