package parquet

import (
	"io"

	"github.com/parquet-go/parquet-go"
)

// heldPages is the writer's pool of column page buffers, counting the bytes
// written into them. parquet-go writes each data page (header and
// compressed values) into its column's buffer as the page is cut (see
// pageBytes) and keeps the buffers until the row group is written, so the
// count since the last row group ended is what the writer holds for this
// row group. Counting what is held, rather than estimating from the
// values, bounds that memory whatever the records' compression ratio and
// codec.
//
// The Encoder is used from one goroutine at a time and its writer fills
// pages on the calling goroutine, so the count needs no lock.
type heldPages struct {
	pool  parquet.BufferPool
	bytes int64 // since the encoder last reset it
}

func newHeldPages() *heldPages {
	// In-memory buffers in 32 KiB chunks, parquet-go's default.
	return &heldPages{pool: parquet.NewBufferPool()}
}

func (p *heldPages) GetBuffer() io.ReadWriteSeeker {
	return &heldBuffer{ReadWriteSeeker: p.pool.GetBuffer(), held: p}
}

func (p *heldPages) PutBuffer(b io.ReadWriteSeeker) {
	if hb, ok := b.(*heldBuffer); ok {
		p.pool.PutBuffer(hb.ReadWriteSeeker)
	}
}

// heldBuffer is one column's page buffer, adding what is written to the
// pool's count.
type heldBuffer struct {
	io.ReadWriteSeeker
	held *heldPages
}

func (b *heldBuffer) Write(p []byte) (int, error) {
	n, err := b.ReadWriteSeeker.Write(p)
	b.held.bytes += int64(n)
	return n, err
}

// WriteTo keeps the inner buffer's copy-free path for io.Copy, which is how
// the writer moves a finished row group to the file.
func (b *heldBuffer) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := b.ReadWriteSeeker.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, struct{ io.Reader }{b.ReadWriteSeeker})
}
