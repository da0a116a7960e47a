package parquet

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
)

// TestZstdCodecRoundTrip: what the codec writes, parquet-go's own codec
// (what readers of the file use) reads back, and it is never larger than
// what parquet-go's codec writes, for pages below, at and above the window.
func TestZstdCodecRoundTrip(t *testing.T) {
	var ours zstdCodec
	var theirs pqzstd.Codec
	rng := rand.New(rand.NewPCG(1, 2))
	for _, gen := range []struct {
		name string
		f    func(*rand.Rand, int) []byte
	}{{"record-like", pageLike}, {"identifiers", randomIDs}} {
		for _, n := range []int{0, 1, 1000, 1024, 5000, pageBytes, zstdWindow, 300 << 10, 700 << 10} {
			src := gen.f(rng, n)
			want, err := theirs.Encode(nil, src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ours.Encode(nil, src)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > len(want) {
				t.Errorf("%s, %d bytes: compressed to %d bytes, parquet-go's codec to %d", gen.name, n, len(got), len(want))
			}
			back, err := theirs.Decode(nil, got)
			if err != nil || !bytes.Equal(back, src) {
				t.Errorf("%s, %d bytes: parquet-go's codec read back %d bytes, err %v", gen.name, n, len(back), err)
			}
		}
	}
}

// TestZstdCodecCompressesIdentifiers: a page of random identifiers (hex
// digits and dashes, as developer and app IDs are) has few repeats for
// the match finder, but Huffman coding of its literals halves it. At
// klauspost/compress's default level such blocks were stored raw.
func TestZstdCodecCompressesIdentifiers(t *testing.T) {
	var c zstdCodec
	src := randomIDs(rand.New(rand.NewPCG(3, 4)), pageBytes)
	out, err := c.Encode(nil, src)
	if err != nil {
		t.Fatal(err)
	}
	if ratio := float64(len(out)) / float64(len(src)); ratio > 0.6 {
		t.Errorf("a page of random identifiers compressed to %.2f of its size; want under 0.6 (entropy coding alone gives about 0.5)", ratio)
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

// randomIDs is n bytes of random UUIDs back to back, as a
// DELTA_LENGTH_BYTE_ARRAY page of an ID column holds them.
func randomIDs(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xffff, rng.Uint64()&(1<<48-1))
	}
	return b.Bytes()[:n]
}
