//go:build !linux

package keyset

// mapping is memory from the Go heap, on systems where the package does
// not map memory itself.
type mapping struct{ heap []byte }

// resize returns size bytes holding the bytes of the previous size.
func (m *mapping) resize(size int) []byte {
	h := make([]byte, size)
	copy(h, m.heap)
	m.heap = h
	return h
}

func (m *mapping) free() { m.heap = nil }
