package sink

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"pubexport/formats/field"

	"google.golang.org/grpc/codes"
)

// tempPrefix starts the names of files being written. They live next to
// their final name (so the final rename stays within one directory) and
// carry the writing process's id: List hides the temp files of live
// processes, as Cloud Storage hides uploads in progress, but shows those of
// a process that died (kill -9) so that a cleanup of their folder finds and
// removes them.
const tempPrefix = ".pubexport-tmp-"

// tempName is a fresh name for a temp file of this process: tempPrefix,
// the process id (which orphanedTemp reads), "-" and a random number.
func tempName() string {
	return tempPrefix + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64(), 36)
}

// orphanedTemp reports whether name is the temp file of a process that is
// no longer running.
func orphanedTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok {
		return false
	}
	pidText, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 {
		return true // not ours to keep alive: an older layout, or damaged
	}
	if pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// localBucket is a folder. Objects are files, "/" in names makes
// subfolders, and Attrs are not kept: a file has no content type.
type localBucket struct {
	dir  string // absolute
	sums fileSums
}

func openLocal(d dest) (Bucket, error) {
	fi, err := os.Stat(d.dir)
	switch {
	case err == nil && !fi.IsDir():
		return nil, invalidDest("%s is a file, not a folder; give a folder (it is created if missing)", d.dir)
	case errors.Is(err, syscall.ENOTDIR):
		return nil, invalidDest("a parent of %s is a file, not a folder; give another folder", d.dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, localError(err, "opening "+d.dir)
	}
	return &localBucket{dir: d.dir}, nil
}

func (b *localBucket) URI(name string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(b.dir, filepath.FromSlash(name)))}).String()
}

func (b *localBucket) path(name string) (string, error) {
	if err := checkName(name, name); err != nil {
		return "", err
	}
	return filepath.Join(b.dir, filepath.FromSlash(name)), nil
}

func (b *localBucket) Close() error { return nil }

// inDir runs fn, which creates something in dir, creating dir first. It
// tries again when dir vanished in between: Delete removes folders it
// empties, possibly while another writer is about to use them.
// MkdirAll itself can meet the race: a parent it just made or found may be
// pruned before it makes the child.
func inDir(dir string, fn func() error) error {
	var err error
	for range 10 {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = fn()
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

// createTemp creates a new temp file in dir, creating dir if needed.
//
// Not os.CreateTemp: it makes 0600 files, and widening them with Chmod
// would bypass the umask, making an export (which may hold consumer
// secrets) world-readable where the user asked for private files. Like
// os.Create, it asks for 0666 and lets the umask decide. Published files are
// hard links to these, so they get the same mode.
func createTemp(dir string) (*os.File, error) {
	var f *os.File
	err := inDir(dir, func() error {
		var err error
		for range 100 {
			f, err = os.OpenFile(filepath.Join(dir, tempName()), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
			if !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		return err // 100 collisions of 64-bit random names: something else is wrong
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// syncDir makes a rename or link in dir durable. File systems that cannot
// sync a directory say so with EINVAL; that is not a failure of ours.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}

// fileInfo reports a file's size and CRC32C, reading the file unless the
// bucket knows its CRC32C already (see fileSums).
func (b *localBucket) fileInfo(name, p string) (ObjectInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ObjectInfo{}, err
	}
	if crc, ok := b.sums.get(p, fi); ok {
		return ObjectInfo{Name: name, Size: fi.Size(), CRC32C: crc, Created: fi.ModTime()}, nil
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	if err != nil {
		return ObjectInfo{}, err
	}
	if n == fi.Size() {
		b.sums.put(p, fi, h.Sum32(), false)
	}
	return ObjectInfo{Name: name, Size: n, CRC32C: h.Sum32(), Created: fi.ModTime()}, nil
}

func (b *localBucket) NewReader(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := b.path(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, localError(err, "reading "+b.URI(name))
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, localError(err, "reading "+b.URI(name))
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, newError(codes.NotFound, err, "reading %s: not a file", b.URI(name))
	}
	return f, nil
}

func (b *localBucket) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if prefix != "" {
		if err := checkPath(strings.TrimSuffix(prefix, "/")); err != nil {
			return nil, newError(codes.InvalidArgument, nil, "listing prefix %q: it %v", prefix, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, localError(err, "listing "+b.URI(prefix))
	}
	start := b.dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(b.dir, filepath.FromSlash(prefix[:i]))
	}
	var out []ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil // nothing there yet, removed while we walked, or a file where the prefix wants a folder
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == start {
			return nil
		}
		rel, err := filepath.Rel(b.dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			// Enter only folders that may hold a match: the manifests
			// at the top must not cost a walk through every staging and
			// operations folder, nor fail on one of them we cannot read.
			// Skipping happens before the folder is read.
			if dir := name + "/"; !strings.HasPrefix(prefix, dir) && !strings.HasPrefix(dir, prefix) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ProbePrefix) ||
			strings.HasPrefix(d.Name(), tempPrefix) && !orphanedTemp(d.Name()) ||
			!strings.HasPrefix(name, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, ObjectInfo{Name: name, Size: fi.Size(), Created: fi.ModTime()})
		return nil
	})
	if errors.Is(err, fs.ErrPermission) {
		// Not localError's "not writable": what failed is reading a folder.
		return nil, fieldError(codes.PermissionDenied, "listing "+b.URI(prefix), &field.Error{Field: field.Destination, Value: b.URI(""),
			Problem: "a folder there cannot be read", Valid: "fix its permissions or choose another destination", Err: err})
	}
	if err != nil {
		return nil, localError(err, "listing "+b.URI(prefix))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete removes a file and then the folders it leaves empty, up to the
// destination folder: staging folders do not pile up.
func (b *localBucket) Delete(ctx context.Context, name string) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return localError(err, "deleting "+b.URI(name))
	}
	b.sums.drop(p)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return localError(err, "deleting "+b.URI(name))
	}
	b.prune(filepath.Dir(p))
	return nil
}

// prune removes dir and its parents inside the bucket while they are
// empty, so that staging folders do not pile up; like Cloud Storage, a
// bucket has no empty folders to show.
func (b *localBucket) prune(dir string) {
	for d := dir; strings.HasPrefix(d, b.dir+string(filepath.Separator)); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break // not empty, or in use: leave it
		}
	}
}

// Publish makes dst a hard link to src after syncing src: dst appears
// complete or not at all, and os.Link refuses to replace an existing dst.
// A src this bucket's writer completed is synced already (Close fsyncs it
// before its rename) and is not synced again while it is the same file:
// that second fsync was one of the export's two per published object.
// Where hard links are not supported it copies src to a temporary file and
// renames that, which cannot refuse atomically: it checks for dst just
// before.
func (b *localBucket) Publish(ctx context.Context, src, dst string, _ Attrs) (ObjectInfo, bool, error) {
	sp, err := b.path(src)
	if err != nil {
		return ObjectInfo{}, false, err
	}
	dp, err := b.path(dst)
	if err != nil {
		return ObjectInfo{}, false, err
	}
	what := "publishing " + b.URI(dst)
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, false, localError(err, what)
	}
	if err := b.syncSource(sp); err != nil {
		return ObjectInfo{}, false, localError(err, what+": the source "+b.URI(src))
	}
	dir := filepath.Dir(dp)
	err = inDir(dir, func() error { return os.Link(sp, dp) })
	switch {
	case err == nil:
		b.sums.link(sp, dp)
	case errors.Is(err, fs.ErrExist):
		info, err := b.fileInfo(dst, dp)
		return info, false, localError(err, what)
	case linkUnsupported(err):
		created, err := b.copyNoClobber(sp, dp)
		if err != nil {
			return ObjectInfo{}, false, localError(err, what)
		}
		if !created {
			info, err := b.fileInfo(dst, dp)
			return info, false, localError(err, what)
		}
	default:
		return ObjectInfo{}, false, localError(err, what)
	}
	if err := syncDir(dir); err != nil {
		return ObjectInfo{}, false, localError(err, what)
	}
	info, err := b.fileInfo(dst, dp)
	if err != nil {
		return ObjectInfo{}, false, localError(err, what)
	}
	return info, true, nil
}

// syncSource makes the file at p durable unless this bucket's writer
// fsynced it and it has not changed since.
func (b *localBucket) syncSource(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if b.sums.synced(p, fi) {
		return nil
	}
	return syncFile(p)
}

func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// linkUnsupported reports errors of os.Link meaning "no hard links here".
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.EXDEV)
}

func (b *localBucket) copyNoClobber(sp, dp string) (bool, error) {
	in, err := os.Open(sp)
	if err != nil {
		return false, err
	}
	defer in.Close()
	f, err := createTemp(filepath.Dir(dp))
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	_, err = io.Copy(f, in)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, err
	}
	if _, err := os.Lstat(dp); err == nil {
		return false, nil
	}
	return true, os.Rename(tmp, dp)
}

// Compose concatenates srcs into a temporary file renamed to dst.
func (b *localBucket) Compose(ctx context.Context, dst string, srcs []string, _ Attrs) (ObjectInfo, error) {
	if len(srcs) == 0 {
		return ObjectInfo{}, newError(codes.InvalidArgument, nil, "composing %s: no sources", b.URI(dst))
	}
	paths := make([]string, len(srcs))
	for i, s := range srcs {
		p, err := b.path(s)
		if err != nil {
			return ObjectInfo{}, err
		}
		paths[i] = p
	}
	w, err := b.newWriter(ctx, dst)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer w.Abort()
	for i, p := range paths {
		if err := w.appendFile(p); err != nil {
			return ObjectInfo{}, localError(err, "composing "+b.URI(dst)+" from "+b.URI(srcs[i]))
		}
	}
	return w.Close()
}
