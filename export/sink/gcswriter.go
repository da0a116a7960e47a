package sink

import (
	"context"
	"errors"
	"hash"
	"hash/crc32"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/grpc/codes"
)

// castagnoli is the CRC32C table Cloud Storage uses.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// gcsWriter is a resumable upload. Its context is its own: the caller's
// context ends it while it is being written, and Abort does at any time,
// so that such an upload is never finalized and nothing is committed. Once
// Close has begun, the caller's context no longer cuts it short: the last
// request commits the object, and it is waited for (see settleTimeout).
type gcsWriter struct {
	b    *gcsBucket
	name string
	ctx  context.Context // the caller's
	// uctx is the upload's: cancelled by the caller's context until Close
	// detaches it, by Abort, and by the settle timeout.
	uctx   context.Context
	cancel context.CancelCauseFunc
	detach func() bool // stops ctx from cancelling uctx
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
	uctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	detach := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	w := o.NewWriter(uctx)
	w.ChunkSize = b.chunkSize
	w.ContentType = a.ContentType
	w.ContentEncoding = a.ContentEncoding
	w.Metadata = a.Metadata
	return &gcsWriter{b: b, name: name, ctx: ctx, uctx: uctx, cancel: cancel, detach: detach, w: w, crc: crc32.New(castagnoli)}, nil
}

func (w *gcsWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, newError(codes.FailedPrecondition, nil, "writing %s: the writer is closed", w.b.URI(w.name))
	}
	// The upload goroutine notices a cancelled context only when it next
	// sends a chunk; until then writes would fill the buffer for nothing.
	if err := w.ctx.Err(); err != nil {
		return 0, gcsError(err, w.b.name, "writing "+w.b.URI(w.name))
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
	what := "completing " + w.b.URI(w.name)
	defer w.cancel(nil)
	if !w.detach() {
		// The caller's context ended first: the upload is (being)
		// cancelled before its last request, so nothing is committed.
		w.cancel(context.Cause(w.ctx))
		_ = w.w.Close() // waits for the upload goroutine
		return ObjectInfo{}, gcsError(w.ctx.Err(), w.b.name, what)
	}
	timeout := w.b.settleTimeout
	t := time.AfterFunc(timeout, func() { w.cancel(errSettleTimeout) })
	defer t.Stop()
	if err := w.w.Close(); err != nil {
		return ObjectInfo{}, gcsError(settleError(w.uctx, timeout, err), w.b.name, what)
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
	w.detach()
	w.cancel(errAborted)
	_ = w.w.Close() // reports the cancellation; waits for the upload goroutine
}

// errAborted is the cause of an upload that Abort ended.
var errAborted = errors.New("the upload was aborted")
