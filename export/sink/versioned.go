package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/grpc/codes"
)

// Versioned is a Bucket that can replace a small object only if nobody else
// replaced it since it was read: Cloud Storage's generation preconditions,
// and a lock file on a local folder. Pointers that several exports update
// (the latest export of a resource) need it, so that an older export that
// finishes late never overwrites a newer one's pointer.
type Versioned interface {
	// ReadVersion returns the object's bytes and its version, or no bytes
	// and version 0 when it does not exist. Objects larger than 1 MiB are
	// not pointers and are refused.
	ReadVersion(ctx context.Context, name string) (body []byte, version int64, err error)
	// WriteIfVersion writes body as name if the object is still at version
	// (0: if it still does not exist). It answers ABORTED, writing nothing,
	// when the object changed meanwhile.
	WriteIfVersion(ctx context.Context, name string, body []byte, version int64, a Attrs) error
}

// maxVersioned bounds what ReadVersion reads.
const maxVersioned = 1 << 20

var (
	_ Versioned = (*gcsBucket)(nil)
	_ Versioned = (*localBucket)(nil)
)

func (b *gcsBucket) ReadVersion(ctx context.Context, name string) ([]byte, int64, error) {
	o, err := b.object(name)
	if err != nil {
		return nil, 0, err
	}
	r, err := o.ReadCompressed(true).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, gcsError(err, b.name, "reading "+b.URI(name))
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, maxVersioned+1))
	if err != nil {
		return nil, 0, gcsError(err, b.name, "reading "+b.URI(name))
	}
	if len(body) > maxVersioned {
		return nil, 0, newError(codes.FailedPrecondition, nil, "%s is larger than %d bytes: it is not a pointer pubexport wrote; delete it", b.URI(name), maxVersioned)
	}
	return body, r.Attrs.Generation, nil
}

func (b *gcsBucket) WriteIfVersion(ctx context.Context, name string, body []byte, version int64, a Attrs) error {
	o, err := b.object(name)
	if err != nil {
		return err
	}
	cond := storage.Conditions{DoesNotExist: true}
	if version != 0 {
		cond = storage.Conditions{GenerationMatch: version}
	}
	w := o.If(cond).NewWriter(ctx)
	w.ChunkSize = 0 // one request: small, and retried as a whole
	w.ContentType = a.ContentType
	w.Metadata = a.Metadata
	// A pointer changes every run: caches must ask again.
	w.CacheControl = "no-cache"
	w.SendCRC32C = true
	w.CRC32C = crc32.Checksum(body, castagnoli)
	if _, err := w.Write(body); err != nil {
		w.Close()
		return gcsError(err, b.name, "writing "+b.URI(name))
	}
	if err := w.Close(); err != nil {
		if httpCode(err) == 412 {
			return newError(codes.Aborted, nil, "%s was changed by another writer", b.URI(name))
		}
		return gcsError(err, b.name, "writing "+b.URI(name))
	}
	return nil
}

// A local pointer's version is a hash of its bytes: a folder has no
// generations, and a rewrite with other content must change it.
func localVersion(body []byte) int64 {
	sum := sha256.Sum256(body)
	return int64(binary.BigEndian.Uint64(sum[:8])>>1) | 1
}

func (b *localBucket) ReadVersion(ctx context.Context, name string) ([]byte, int64, error) {
	p, err := b.path(name)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, localError(err, "reading "+p)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, maxVersioned+1))
	if err != nil {
		return nil, 0, localError(err, "reading "+p)
	}
	if len(body) > maxVersioned {
		return nil, 0, newError(codes.FailedPrecondition, nil, "%s is larger than %d bytes: it is not a pointer pubexport wrote; delete it", p, maxVersioned)
	}
	return body, localVersion(body), nil
}

// lockWait bounds how long WriteIfVersion waits for another writer's lock;
// staleLock is the age after which a lock is taken to be a dead writer's.
const (
	lockWait  = 10 * time.Second
	staleLock = 30 * time.Second
)

func (b *localBucket) WriteIfVersion(ctx context.Context, name string, body []byte, version int64, _ Attrs) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	lock := p + ".lock"
	deadline := time.Now().Add(lockWait)
	for {
		err := inDir(dir, func() error {
			f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
			if err == nil {
				f.Close()
			}
			return err
		})
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return localError(err, "locking "+p)
		}
		if fi, serr := os.Stat(lock); serr == nil && time.Since(fi.ModTime()) > staleLock {
			os.Remove(lock) // left by a writer that died
			continue
		}
		if time.Now().After(deadline) {
			return newError(codes.Aborted, nil, "%s is locked by another writer (%s); try again, or delete the lock if no pubexport runs", p, lock)
		}
		select {
		case <-ctx.Done():
			return localError(ctx.Err(), "locking "+p)
		case <-time.After(20 * time.Millisecond):
		}
	}
	defer os.Remove(lock)

	cur, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if version != 0 {
			return newError(codes.Aborted, nil, "%s was removed by another writer", p)
		}
	case err != nil:
		return localError(err, "reading "+p)
	case version == 0 || localVersion(cur) != version:
		return newError(codes.Aborted, nil, "%s was changed by another writer", p)
	}
	f, err := createTemp(dir)
	if err != nil {
		return localError(err, "writing "+p)
	}
	tmp := f.Name()
	_, err = io.Copy(f, bytes.NewReader(body))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return localError(err, "writing "+p)
	}
	if err := syncDir(dir); err != nil {
		return localError(err, "writing "+p)
	}
	return nil
}
