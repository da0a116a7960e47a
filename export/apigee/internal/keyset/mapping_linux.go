package keyset

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapping is anonymous memory mapped outside the Go heap. It grows with
// mremap, which moves pages rather than bytes: growing never needs the old
// and the new array at once. If the system refuses a mapping, the memory
// comes from the Go heap instead.
type mapping struct {
	b    []byte   // the mapped bytes, nil when none
	heap []uint64 // the fallback
}

// resize returns room for n hashes holding the hashes of the previous
// room.
func (m *mapping) resize(n int) []uint64 {
	size := n * 8
	if m.heap == nil {
		var b []byte
		var err error
		if m.b == nil {
			b, err = unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		} else {
			b, err = unix.Mremap(m.b, size, unix.MREMAP_MAYMOVE)
		}
		if err == nil {
			m.b = b
			return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
		}
	}
	// The heap: copy what the mapping held, if anything, and release it.
	h := make([]uint64, n)
	if m.b != nil {
		copy(h, unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(m.b))), len(m.b)/8))
		m.free()
	} else {
		copy(h, m.heap)
	}
	m.heap = h
	return h
}

func (m *mapping) free() {
	if m.b != nil {
		unix.Munmap(m.b)
		m.b = nil
	}
	m.heap = nil
}
