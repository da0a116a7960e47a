package sink

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestCRC32Combine checks the combined CRC32C of two byte strings against
// the CRC32C of their concatenation, for lengths around the powers of two
// the combination squares its way through, and empty halves.
func TestCRC32Combine(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lengths := []int{0, 1, 2, 3, 4, 7, 8, 9, 255, 256, 1000, 4096, 65537, 1 << 20}
	for _, la := range lengths {
		for _, lb := range lengths {
			a, b := make([]byte, la), make([]byte, lb)
			for i := range a {
				a[i] = byte(rng.Uint32())
			}
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			want := crc32.Checksum(append(append([]byte(nil), a...), b...), castagnoli)
			got := crc32Combine(crc32.Checksum(a, castagnoli), crc32.Checksum(b, castagnoli), int64(lb))
			if got != want {
				t.Fatalf("crc32Combine of %d and %d bytes = %08x, want %08x", la, lb, got, want)
			}
		}
	}
}
