package store

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/operations/operationspb"
)

// Local returns a Store in a folder, for the CLI and for a single machine.
// Records are JSON files replaced by atomic rename, so a reader never sees
// half a record. Generations are a counter kept in the file, and every write
// holds an flock on the folder's .lock file: two processes sharing the
// folder (a CLI run and a server) serialise their writes and the loser of a
// race gets ABORTED, as with Cloud Storage.
func Local(dir string) (Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, wrap(codes.InvalidArgument, err, "operation store folder %q", dir)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, wrap(localCode(err), err, "creating the operation store folder %s", abs)
	}
	return &local{dir: abs}, nil
}

type local struct {
	dir string
	// mu orders this process's writers before they queue on the flock.
	mu    sync.Mutex
	cache recordCache
}

// localFile is the on-disk form of a record.
type localFile struct {
	Generation int64           `json:"generation"`
	Record     json.RawMessage `json:"record"`
}

func (s *local) path(rel string) string { return filepath.Join(s.dir, filepath.FromSlash(rel)) }

// lock takes the folder lock: the in-process mutex, then an exclusive flock
// that the kernel releases if the process dies.
func (s *local) lock() (unlock func(), err error) {
	s.mu.Lock()
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		s.mu.Unlock()
		return nil, wrap(localCode(err), err, "opening the operation store lock")
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		s.mu.Unlock()
		return nil, wrap(codes.Unavailable, err, "locking the operation store")
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		s.mu.Unlock()
	}, nil
}

// read returns the record named name, shared with the cache: it must not
// be changed.
func (s *local) read(name string) (*operationspb.OperationRecord, int64, error) {
	p := s.path(recordPath(name))
	if fi, err := os.Stat(p); err == nil {
		if rec, gen, ok := s.cache.unchanged(name, fi); ok {
			return rec, gen, nil
		}
	}
	readAt := time.Now()
	b, fi, err := readFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, notFound(name)
	}
	if err != nil {
		return nil, 0, wrap(localCode(err), err, "reading operation %s", name)
	}
	defer func() { s.cache.settled(name, b, fi, readAt) }()
	return s.cache.decode(name, b, func(b []byte) (*operationspb.OperationRecord, int64, error) {
		var f localFile
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, 0, status.Errorf(codes.DataLoss, "operation record %s is damaged: %v; delete it", name, err)
		}
		rec, err := decode(name, f.Record)
		if err != nil {
			return nil, 0, err
		}
		return rec, f.Generation, nil
	})
}

// readFile reads the file at p and returns it with the state of the file
// it read (not of whatever is at p by the time it returns).
func readFile(p string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	b := make([]byte, 0, fi.Size()+1)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, fi, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// write replaces rel atomically: a temporary file in the same folder,
// synced, renamed over the old one.
func (s *local) write(rel string, body []byte) error {
	p := s.path(rel)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return wrap(localCode(err), err, "creating %s", dir)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return wrap(localCode(err), err, "writing %s", p)
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return wrap(localCode(err), err, "writing %s", p)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (s *local) writeRecord(name string, rec *operationspb.OperationRecord, gen int64) error {
	body, err := encode(rec)
	if err != nil {
		return err
	}
	file, err := json.Marshal(localFile{Generation: gen, Record: body})
	if err != nil {
		return status.Errorf(codes.Internal, "encoding operation %s: %v", name, err)
	}
	return s.write(recordPath(name), file)
}

func (s *local) Get(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error) {
	rec, gen, err := s.Peek(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	return proto.Clone(rec).(*operationspb.OperationRecord), gen, nil
}

// Peek returns the cache's own record (see recordCache.decode).
func (s *local) Peek(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error) {
	if _, _, err := SplitName(name); err != nil {
		return nil, 0, err
	}
	return s.read(name)
}

func (s *local) Create(ctx context.Context, rec *operationspb.OperationRecord) (int64, error) {
	name, err := RecordName(rec)
	if err != nil {
		return 0, err
	}
	unlock, err := s.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	if _, err := os.Stat(s.path(recordPath(name))); err == nil {
		return 0, alreadyExists(name)
	}
	if err := s.writeRecord(name, rec, 1); err != nil {
		return 0, err
	}
	return 1, nil
}

func (s *local) Update(ctx context.Context, rec *operationspb.OperationRecord, generation int64) (int64, error) {
	name, err := RecordName(rec)
	if err != nil {
		return 0, err
	}
	unlock, err := s.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	_, cur, err := s.read(name)
	if err != nil {
		return 0, err
	}
	if cur != generation {
		return 0, conflict(name)
	}
	if err := s.writeRecord(name, rec, cur+1); err != nil {
		return 0, err
	}
	return cur + 1, nil
}

func (s *local) Delete(ctx context.Context, name string) error {
	if _, _, err := SplitName(name); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	err = os.Remove(s.path(recordPath(name)))
	s.cache.forget(name)
	if errors.Is(err, fs.ErrNotExist) {
		return notFound(name)
	}
	if err != nil {
		return wrap(localCode(err), err, "deleting operation %s", name)
	}
	return nil
}

func (s *local) List(ctx context.Context, parent string) ([]string, error) {
	if err := CheckParent(parent, true); err != nil {
		return nil, err
	}
	root := s.path(listPrefix(parent))
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		if name, ok := nameFromPath(filepath.ToSlash(rel)); ok {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, wrap(localCode(err), err, "listing operations under %s", root)
	}
	sort.Strings(names)
	return names, nil
}

func (s *local) ClaimRequest(ctx context.Context, parent, requestID, name string) (string, error) {
	unlock, err := s.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	rel := requestPath(parent, requestID)
	if owner, err := s.readClaim(rel); err != nil || owner != "" {
		return owner, err
	}
	body, err := json.Marshal(claim{Name: name})
	if err != nil {
		return "", status.Errorf(codes.Internal, "encoding a request claim: %v", err)
	}
	if err := s.write(rel, body); err != nil {
		return "", err
	}
	return name, nil
}

func (s *local) ReleaseRequest(ctx context.Context, parent, requestID, name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	rel := requestPath(parent, requestID)
	owner, err := s.readClaim(rel)
	if err != nil || owner != name {
		return err
	}
	if err := os.Remove(s.path(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return wrap(localCode(err), err, "releasing request id %q", requestID)
	}
	return nil
}

// readClaim returns the operation owning a claim, or "" if there is none.
func (s *local) readClaim(rel string) (string, error) {
	b, err := os.ReadFile(s.path(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", wrap(localCode(err), err, "reading request claim %s", rel)
	}
	var c claim
	if err := json.Unmarshal(b, &c); err != nil || c.Name == "" {
		return "", status.Errorf(codes.DataLoss, "request claim %s is damaged; delete it", s.path(rel))
	}
	return c.Name, nil
}

// localCode is the code of a failed file operation on the store's folder.
// A read-only file system (EROFS) is PERMISSION_DENIED like EACCES and EPERM,
// as the folder sink says: the operator must fix where the store is, not
// report a bug.
func localCode(err error) codes.Code {
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return codes.PermissionDenied
	case errors.Is(err, fs.ErrNotExist):
		return codes.NotFound
	case errors.Is(err, syscall.ENOSPC):
		return codes.ResourceExhausted
	}
	return codes.Internal
}
