package sink

import (
	"context"
	"hash"
	"hash/crc32"

	"cloud.google.com/go/storage"
	"google.golang.org/grpc/codes"
)

// castagnoli is the CRC32C table Cloud Storage uses.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// gcsWriter is a resumable upload. Its context is its own: Abort cancels it,
// so the upload is never finalized and nothing is committed.
type gcsWriter struct {
	b      *gcsBucket
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	w      *storage.Writer
	crc    hash.Hash32
	n      int64
	done   bool
}

func (b *gcsBucket) NewWriter(ctx context.Context, name string, a Attrs) (Writer, error) {
	o, err := b.object(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := o.NewWriter(ctx)
	w.ChunkSize = b.chunkSize
	w.ContentType = a.ContentType
	w.ContentEncoding = a.ContentEncoding
	w.Metadata = a.Metadata
	return &gcsWriter{b: b, name: name, ctx: ctx, cancel: cancel, w: w, crc: crc32.New(castagnoli)}, nil
}

func (w *gcsWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, newError(codes.FailedPrecondition, nil, "writing %s: the writer is closed", w.b.URI(w.name))
	}
	// The upload goroutine notices a cancelled context only when it next
	// sends a chunk; until then writes would fill the buffer for nothing.
	if err := w.ctx.Err(); err != nil {
		return 0, gcsError(context.Cause(w.ctx), w.b.name, "writing "+w.b.URI(w.name))
	}
	n, err := w.w.Write(p)
	w.crc.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, gcsError(err, w.b.name, "writing "+w.b.URI(w.name))
	}
	return n, nil
}

func (w *gcsWriter) Close() (ObjectInfo, error) {
	if w.done {
		return ObjectInfo{}, newError(codes.FailedPrecondition, nil, "closing %s: the writer is already closed", w.b.URI(w.name))
	}
	w.done = true
	defer w.cancel()
	if err := w.w.Close(); err != nil {
		return ObjectInfo{}, gcsError(err, w.b.name, "completing "+w.b.URI(w.name))
	}
	info := w.b.info(w.w.Attrs())
	// Emulators do not verify checksums of multi-chunk uploads; compare
	// what the service reports with what was written.
	if sum := w.crc.Sum32(); info.Size != w.n || info.CRC32C != sum {
		return info, newError(codes.DataLoss, nil, "completing %s: Cloud Storage holds %d bytes with CRC32C %08x, %d bytes with CRC32C %08x were written", w.b.URI(w.name), info.Size, info.CRC32C, w.n, sum)
	}
	return info, nil
}

func (w *gcsWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	_ = w.w.Close() // reports the cancellation; waits for the upload goroutine
}
