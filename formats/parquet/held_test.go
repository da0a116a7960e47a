package parquet

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/proto"

	"pubexport/formats/internal/testpb"
)

// TestRowGroupsEndAtMaxRowGroupBytes reads a file's metadata: with a byte
// cap far below the data, the file has many row groups; every one but the
// last reached the cap (the writer held that many bytes of pages when it
// was ended) and none went past it by more than the pages that one row and
// the final flush can add (a page per column each, at most pageBytes of
// values plus the row). The records are small and of few columns, so that
// bound is well under the cap, and their labels are random, so that zstd
// keeps them about their size.
func TestRowGroupsEndAtMaxRowGroupBytes(t *testing.T) {
	const rows, maxBytes = 40_000, 256 << 10
	md := (&testpb.Grandchild{}).ProtoReflect().Descriptor()
	for _, c := range []string{"none", "zstd"} {
		t.Run("compression="+c, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var buf bytes.Buffer
			enc, err := NewEncoder(&buf, md, Options{Compression: c, MaxRowGroupBytes: maxBytes})
			if err != nil {
				t.Fatal(err)
			}
			var maxRow, total int
			for i := range rows {
				m := &testpb.Grandchild{
					Label:   proto.String(fmt.Sprintf("%016x%016x%016x", r.Uint64(), r.Uint64(), r.Uint64())),
					Methods: []string{"GET", fmt.Sprint(i)},
					Weight:  proto.Int64(int64(i)),
				}
				maxRow = max(maxRow, proto.Size(m))
				total += proto.Size(m)
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
			groups := f.Metadata().RowGroups
			if len(groups) < 4 {
				t.Fatalf("%d row groups for %d KiB of records with a cap of %d KiB", len(groups), total>>10, maxBytes>>10)
			}
			// Page headers take a few dozen bytes: 1 KiB a page is generous.
			columns := len(f.Schema().Columns())
			over := int64(2 * columns * (pageBytes + maxRow + 1<<10))
			var n int64
			for i, g := range groups {
				n += g.NumRows
				if i < len(groups)-1 && g.TotalCompressedSize < maxBytes {
					t.Errorf("row group %d: %d bytes, ended before the cap of %d", i, g.TotalCompressedSize, maxBytes)
				}
				if g.TotalCompressedSize > maxBytes+over {
					t.Errorf("row group %d: %d bytes, over the cap of %d by more than %d", i, g.TotalCompressedSize, maxBytes, over)
				}
			}
			if n != rows {
				t.Errorf("%d rows in the row groups, want %d", n, rows)
			}
			// Every record reads back, in order, across the row groups.
			rd := parquet.NewGenericReader[any](bytes.NewReader(data))
			defer rd.Close()
			back := make([]parquet.Row, 512)
			var read int
			for {
				k, err := rd.ReadRows(back)
				read += k
				if err != nil {
					break
				}
			}
			if read != rows {
				t.Errorf("read %d rows back, want %d", read, rows)
			}
		})
	}
}
