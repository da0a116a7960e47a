package parquet

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"google.golang.org/protobuf/proto"

	"pubexport/formats/internal/testrecords"
)

// TestPagesAreCutAtPageBytes: every data page of a file holds at most
// pageBytes of values plus the one row that crossed the mark, so the
// writer's column buffers stay bounded by the page size, and the large
// columns of a big row group are split into many pages.
func TestPagesAreCutAtPageBytes(t *testing.T) {
	const rows = 6_000 // two columns of about 6 and 7 pages: enough to show the cut
	var buf bytes.Buffer
	// One row group whatever the records compress to (see below).
	enc, err := NewEncoder(&buf, testrecords.AppShaped(0).ProtoReflect().Descriptor(), Options{MaxRowGroupBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	// The largest row's bytes in any one column bound how far a page may
	// run past pageBytes; a whole encoded row bounds that generously.
	var maxRow int
	for i := range rows {
		m := testrecords.AppShaped(i)
		maxRow = max(maxRow, proto.Size(m))
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.RowGroups()) != 1 {
		t.Fatalf("%d row groups; the test wants one large one", len(f.RowGroups()))
	}
	var largest, multi int
	for _, cc := range f.Metadata().RowGroups[0].Columns {
		md := cc.MetaData
		name := fmt.Sprint(md.PathInSchema)
		headers := pageHeaders(t, data, md)
		var data int
		for _, h := range headers {
			if h.Type != format.DataPage {
				continue
			}
			data++
			size := int(h.UncompressedPageSize)
			largest = max(largest, size)
			if size > pageBytes+maxRow {
				t.Errorf("column %s: a page of %d bytes, over %d (pageBytes) + %d (a row)", name, size, pageBytes, maxRow)
			}
		}
		if md.TotalUncompressedSize > 4*pageBytes {
			if data < 4 {
				t.Errorf("column %s: %d bytes in %d pages", name, md.TotalUncompressedSize, data)
			}
			multi++
		}
	}
	if multi == 0 || largest < pageBytes/2 {
		t.Errorf("no column spans several pages (largest page %d bytes): the test data is too small to show the cap", largest)
	}
}

// pageHeaders reads the headers of a column chunk's pages.
func pageHeaders(t *testing.T, data []byte, md format.ColumnMetaData) []format.PageHeader {
	t.Helper()
	start := md.DataPageOffset
	if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < start {
		start = md.DictionaryPageOffset
	}
	chunk := data[start : start+md.TotalCompressedSize]
	var headers []format.PageHeader
	for len(chunk) > 0 {
		r := bytes.NewReader(chunk)
		var h format.PageHeader
		if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(r)).Decode(&h); err != nil {
			t.Fatalf("page header at %d: %v", len(data)-len(chunk), err)
		}
		body := len(chunk) - r.Len()
		chunk = chunk[body+int(h.CompressedPageSize):]
		headers = append(headers, h)
	}
	return headers
}
