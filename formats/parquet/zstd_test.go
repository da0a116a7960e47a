package parquet

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
)

// TestZstdCodecSameBytes checks that the bounded-window codec writes the
// bytes parquet-go's own codec writes for pages up to the window, so that
// exports keep their content hashes.
func TestZstdCodecSameBytes(t *testing.T) {
	var ours zstdCodec
	var theirs pqzstd.Codec
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 1000, 1024, 5000, 128 << 10, 300 << 10, 700 << 10, zstdWindow} {
		src := pageLike(rng, n)
		want, err := theirs.Encode(nil, src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ours.Encode(nil, src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%d bytes: compressed to %d bytes, parquet-go's codec to %d; want the same bytes", n, len(got), len(want))
		}
		back, err := ours.Decode(nil, got)
		if err != nil || !bytes.Equal(back, src) {
			t.Errorf("%d bytes: round trip gave %d bytes, err %v", n, len(back), err)
		}
	}
}

// pageLike is n bytes of repetitive, record-like text.
func pageLike(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "developer-%d@example.com\x00app-%x\x00%d\x00", rng.IntN(1_000_000), rng.Uint64(), rng.Int64N(1<<40))
	}
	return b.Bytes()[:n]
}
