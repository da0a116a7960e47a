package sink

import (
	"context"
	"hash"
	"hash/crc32"
	"os"
	"path/filepath"

	"google.golang.org/grpc/codes"
)

// localWriter writes a temporary file next to the final name and renames
// it on Close, after an fsync: the name never holds a partial file.
type localWriter struct {
	b     *localBucket
	ctx   context.Context
	name  string
	final string
	f     *os.File
	crc   hash.Hash32
	n     int64
	done  bool
}

func (b *localBucket) NewWriter(ctx context.Context, name string, _ Attrs) (Writer, error) {
	p, err := b.path(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, localError(err, "creating "+b.URI(name))
	}
	f, err := createTemp(filepath.Dir(p))
	if err != nil {
		return nil, localError(err, "creating "+b.URI(name))
	}
	return &localWriter{b: b, ctx: ctx, name: name, final: p, f: f, crc: crc32.New(castagnoli)}, nil
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, newError(codes.FailedPrecondition, nil, "writing %s: the writer is closed", w.b.URI(w.name))
	}
	if err := w.ctx.Err(); err != nil {
		return 0, localError(err, "writing "+w.b.URI(w.name))
	}
	n, err := w.f.Write(p)
	w.crc.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, localError(err, "writing "+w.b.URI(w.name))
	}
	return n, nil
}

func (w *localWriter) Close() (ObjectInfo, error) {
	if w.done {
		return ObjectInfo{}, newError(codes.FailedPrecondition, nil, "closing %s: the writer is already closed", w.b.URI(w.name))
	}
	what := "completing " + w.b.URI(w.name)
	if err := w.ctx.Err(); err != nil {
		w.Abort()
		return ObjectInfo{}, localError(err, what)
	}
	w.done = true
	tmp := w.f.Name()
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = os.Stat(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, w.final)
	}
	if err != nil {
		os.Remove(tmp)
		return ObjectInfo{}, localError(err, what)
	}
	if err := syncDir(filepath.Dir(w.final)); err != nil {
		return ObjectInfo{}, localError(err, what)
	}
	return ObjectInfo{Name: w.name, Size: w.n, CRC32C: w.crc.Sum32(), Created: fi.ModTime()}, nil
}

func (w *localWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
	w.b.prune(filepath.Dir(w.final))
}
