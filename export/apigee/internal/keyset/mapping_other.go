//go:build !linux

package keyset

// mapping is the array's memory from the Go heap, on systems where the
// package does not map memory itself.
type mapping struct{ heap []uint64 }

// resize returns room for n hashes holding the hashes of the previous
// room.
func (m *mapping) resize(n int) []uint64 {
	h := make([]uint64, n)
	copy(h, m.heap)
	m.heap = h
	return h
}

func (m *mapping) free() { m.heap = nil }
