package sink

import (
	"os"
	"sync"
)

// fileSums remembers the CRC32C of files a local bucket wrote or read, so
// that Compose and Publish do not read back the bytes it has just written:
// for a 79 MB export, reading the staged parts to compose them and the
// result to check it took 180 ms after the last page, on the export's wall
// time. It also remembers which of them the bucket's own writer fsynced, so
// that Publish does not sync them again. An entry is used only while the
// file is the same one, with the same size and modification time (a file
// rewritten in place since would have another), and is dropped when the
// bucket deletes the file.
type fileSums struct {
	mu sync.Mutex
	m  map[string]fileSum // by absolute path
}

type fileSum struct {
	fi     os.FileInfo
	crc    uint32
	synced bool // fsynced by this bucket's writer as it is now
}

// maxFileSums bounds the memory: an export keeps a few dozen entries at a
// time (its staging parts), and a bucket that passes the bound starts over.
const maxFileSums = 4096

// put records the CRC32C of the file at p, whose info is fi; synced says
// that its bytes were fsynced before fi was taken.
func (s *fileSums) put(p string, fi os.FileInfo, crc uint32, synced bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxFileSums {
		s.m = map[string]fileSum{}
	}
	s.m[p] = fileSum{fi: fi, crc: crc, synced: synced}
}

// get returns the CRC32C of the file at p, whose current info is fi, if it
// is known.
func (s *fileSums) get(p string, fi os.FileInfo) (uint32, bool) {
	e, ok := s.entry(p, fi)
	return e.crc, ok
}

// synced reports whether the file at p, whose current info is fi, is one
// this bucket's writer fsynced and that has not changed since.
func (s *fileSums) synced(p string, fi os.FileInfo) bool {
	e, ok := s.entry(p, fi)
	return ok && e.synced
}

func (s *fileSums) entry(p string, fi os.FileInfo) (fileSum, bool) {
	s.mu.Lock()
	e, ok := s.m[p]
	s.mu.Unlock()
	if !ok || !os.SameFile(e.fi, fi) || e.fi.Size() != fi.Size() || !e.fi.ModTime().Equal(fi.ModTime()) {
		return fileSum{}, false
	}
	return e, true
}

// link records that the file at to is a hard link to the one at from.
func (s *fileSums) link(from, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[from]; ok && len(s.m) < maxFileSums {
		s.m[to] = e
	}
}

func (s *fileSums) drop(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, p)
}
