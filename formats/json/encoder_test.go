package json_test

import (
	"bytes"
	stdjson "encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/formats/internal/testpb"
	"pubexport/formats/internal/testrecords"
	"pubexport/formats/json"
)

var everything = (&testpb.Everything{}).ProtoReflect().Descriptor()

func TestArrayEncoderWritesOneArrayOfProtojsonRecords(t *testing.T) {
	records := testrecords.Fixed()
	var buf bytes.Buffer
	enc := json.NewArrayEncoder(&buf, everything, 0)
	for _, m := range records {
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	var elems []stdjson.RawMessage
	if err := stdjson.Unmarshal(buf.Bytes(), &elems); err != nil {
		t.Fatalf("not one JSON array: %v\n%s", err, buf.Bytes())
	}
	if len(elems) != len(records) {
		t.Fatalf("%d elements, want %d", len(elems), len(records))
	}
	for i, e := range elems {
		if want := compactProtojson(t, records[i]); !bytes.Equal(e, want) {
			t.Errorf("element %d = %s; want %s", i, e, want)
		}
	}
	if !strings.HasPrefix(buf.String(), "[\n{") || !strings.HasSuffix(buf.String(), "}\n]\n") {
		t.Errorf("layout: %q", buf.String())
	}
}

func TestEmptyArrayAndNothingBeforeFirstEncode(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewArrayEncoder(&buf, everything, 0)
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %q before any record", buf.String())
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "[]\n" {
		t.Fatalf("empty array = %q", buf.String())
	}
	if err := enc.Encode(&testpb.Everything{}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Encode after Close: %v", err)
	}
}

func TestLinesEncoderWritesOneObjectPerLine(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewLinesEncoder(&buf, everything)
	records := testrecords.Fixed()
	for _, m := range records {
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(records) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(records), buf.String())
	}
	for i, line := range lines {
		back := &testpb.Everything{}
		if err := protojson.Unmarshal([]byte(line), back); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if !proto.Equal(back, records[i]) {
			t.Errorf("line %d reads back as %v", i, back)
		}
	}
}

func TestEncoderRejectsBadRecordWithoutWritingIt(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewArrayEncoder(&buf, everything, 0)
	if err := enc.Encode(&testpb.Everything{Name: proto.String("a")}); err != nil {
		t.Fatal(err)
	}
	err := enc.Encode(&testpb.Everything{Tags: []string{"\xff"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "pubexport.formats.test.Everything.tags") {
		t.Fatalf("Encode(invalid UTF-8) = %v; want INVALID_ARGUMENT naming the field", err)
	}
	if err := enc.Encode(&testpb.Child{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Encode(wrong type) = %v", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "[\n{\"name\":\"a\"}\n]\n" {
		t.Fatalf("output %q; the bad record must leave no trace", buf.String())
	}
}

func TestLargeStreamsAreWrittenInChunks(t *testing.T) {
	// The buffer must not grow with the object: the writer sees data
	// before Flush once enough records are buffered.
	var buf bytes.Buffer
	enc := json.NewLinesEncoder(&buf, everything)
	for i := 0; buf.Len() == 0; i++ {
		if i > 10_000 {
			t.Fatal("nothing written after 10000 records without Flush")
		}
		if err := enc.Encode(testrecords.AppShaped(i)); err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len() > 256<<10 {
		t.Fatalf("first write was %d bytes; want about the 64 KiB threshold", buf.Len())
	}
}
