package parquet

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/compress"
	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdWindow bounds the encoder's back-reference window. A page is
// compressed on its own and parquet-go cuts pages at 256 KiB, so a window
// past a page's size buys nothing; klauspost/compress keeps a history buffer
// of twice the window (16 MiB at its default 8 MiB). With pages below the
// window the compressed bytes are the same as with the default window.
const zstdWindow = 1 << 20

// zstdCodec is parquet-go's ZSTD codec with one encoder per file, created on
// first use and kept. parquet-go's own codec takes encoders from a sync.Pool,
// which the garbage collector empties: every row group or two it built a new
// encoder with a fresh 16 MiB history, and the dropped ones counted towards
// the heap until collected (189 MiB peak RSS at a million rows).
type zstdCodec struct {
	once sync.Once
	enc  *zstd.Encoder
	err  error
	dec  pqzstd.Codec // reading is for tests and tools; its pool is fine there
}

func (c *zstdCodec) String() string                            { return "ZSTD" }
func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

// Encode compresses src into dst as parquet-go's codec does (same level, no
// checksum, a frame even for empty input). zstd.Encoder.EncodeAll is safe
// for concurrent use; with concurrency 1 calls take turns on one encoder.
func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	c.once.Do(func() {
		c.enc, c.err = zstd.NewWriter(nil,
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderLevel(pqzstd.DefaultLevel),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false),
		)
	})
	if c.err != nil {
		return dst[:0], c.err
	}
	return c.enc.EncodeAll(src, dst[:0]), nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) { return c.dec.Decode(dst, src) }

var _ compress.Codec = (*zstdCodec)(nil)
