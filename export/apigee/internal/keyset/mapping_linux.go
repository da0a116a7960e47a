package keyset

import (
	"golang.org/x/sys/unix"
)

// mapping is anonymous memory mapped outside the Go heap. It grows with
// mremap, which moves pages rather than bytes: growing never needs the old
// and the new array at once. If the system refuses a mapping, the memory
// comes from the Go heap instead.
type mapping struct {
	b    []byte // the mapped bytes, nil when none
	heap []byte // the fallback
}

// resize returns size bytes holding the bytes of the previous size.
func (m *mapping) resize(size int) []byte {
	if m.heap == nil {
		// Whole pages: the kernel maps no less.
		page := unix.Getpagesize()
		mapped := (size + page - 1) / page * page
		var b []byte
		var err error
		if m.b == nil {
			b, err = unix.Mmap(-1, 0, mapped, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		} else {
			b, err = unix.Mremap(m.b, mapped, unix.MREMAP_MAYMOVE)
		}
		if err == nil {
			m.b = b
			return b[:size]
		}
	}
	// The heap: copy what the mapping held, if anything, and release it.
	h := make([]byte, size)
	if m.b != nil {
		copy(h, m.b)
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
