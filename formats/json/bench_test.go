package json_test

import (
	"io"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/formats/internal/testrecords"
	"pubexport/formats/json"
)

// benchRecords are app-shaped messages of about 1 KB of JSON each.
func benchRecords() []proto.Message {
	out := make([]proto.Message, 1000)
	for i := range out {
		out[i] = testrecords.AppShaped(i)
	}
	return out
}

func reportRecords(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkProtojsonMarshal is the baseline: protojson.Marshal of the same
// messages, one allocation of the output per record.
func BenchmarkProtojsonMarshal(b *testing.B) {
	records := benchRecords()
	b.ReportAllocs()
	var bytes int
	n := 0
	for b.Loop() {
		out, err := protojson.Marshal(records[n%len(records)])
		if err != nil {
			b.Fatal(err)
		}
		bytes += len(out)
		n++
	}
	b.SetBytes(int64(bytes / n))
	reportRecords(b, n)
}

// BenchmarkProtojsonMarshalAppend is protojson into a reused buffer.
func BenchmarkProtojsonMarshalAppend(b *testing.B) {
	records := benchRecords()
	b.ReportAllocs()
	var buf []byte
	n := 0
	for b.Loop() {
		var err error
		buf, err = protojson.MarshalOptions{}.MarshalAppend(buf[:0], records[n%len(records)])
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRecords(b, n)
}

func BenchmarkMarshalerAppend(b *testing.B) {
	records := benchRecords()
	b.ReportAllocs()
	var j json.Marshaler
	var buf []byte
	n := 0
	for b.Loop() {
		var err error
		buf, err = j.Append(buf[:0], records[n%len(records)].ProtoReflect())
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.SetBytes(int64(len(buf)))
	reportRecords(b, n)
}

func BenchmarkArrayEncoder(b *testing.B) {
	records := benchRecords()
	b.ReportAllocs()
	enc := json.NewArrayEncoder(io.Discard, records[0].ProtoReflect().Descriptor(), 0)
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
	reportRecords(b, n)
}

func BenchmarkLinesEncoder(b *testing.B) {
	records := benchRecords()
	b.ReportAllocs()
	enc := json.NewLinesEncoder(io.Discard, records[0].ProtoReflect().Descriptor())
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
	reportRecords(b, n)
}
