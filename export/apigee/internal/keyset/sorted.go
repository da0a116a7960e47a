package keyset

// sorted is the growable array of a Set's merged hashes. Its memory comes
// from mapArray (outside the Go heap where the system allows it) and grows
// by at least doubling, so a Set of n hashes has mapped at most 2n×8 bytes,
// of which only the n×8 written are resident.
type sorted struct {
	mem []uint64 // len(mem) is the capacity
	m   mapping
}

func newSorted() *sorted { return &sorted{} }

// hashes is the whole array; the Set knows how much of it is in use.
func (a *sorted) hashes() []uint64 { return a.mem }

// grow makes room for n hashes, keeping the ones in the array, and returns
// the array.
func (a *sorted) grow(n int) []uint64 {
	if n <= len(a.mem) {
		return a.mem
	}
	a.mem = a.m.resize(max(n, 2*len(a.mem), 1<<16))
	return a.mem
}

// free gives the array's memory back.
func (a *sorted) free() {
	a.m.free()
	a.mem = nil
}
