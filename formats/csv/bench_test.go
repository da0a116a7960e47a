package csv_test

import (
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	"pubexport/formats/csv"
	"pubexport/formats/internal/testrecords"
)

func BenchmarkEncoder(b *testing.B) {
	records := make([]proto.Message, 1000)
	for i := range records {
		records[i] = testrecords.AppShaped(i)
	}
	enc, err := csv.NewEncoder(io.Discard, everything, csv.Options{}, 0)
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
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
