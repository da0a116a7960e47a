package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/operations/operationspb"
	"pubexport/operations/server"
)

// download streams one object of a finished export (an ExportFinal_ object
// or the manifest) to a caller who may see the operation. It is the
// Download link where the server cannot sign a URL: a folder destination,
// or Cloud Storage credentials that cannot sign. Only objects the
// operation's response names are served, from the destination its request
// names, and only if that destination is within the server's policy: the
// endpoint cannot be used to read anything else.
func (c *Console) download(w http.ResponseWriter, r *http.Request) {
	q, err := params(r, "operation", "object")
	if err != nil {
		server.WriteError(w, err)
		return
	}
	ctx := r.Context()
	name := q.Get("operation")
	obj, dest, err := c.object(ctx, name, q.Get("object"))
	if err != nil {
		server.WriteError(w, err)
		return
	}
	if c.opts.CheckDestination != nil {
		if err := c.opts.CheckDestination(dest); err != nil {
			server.WriteError(w, status.Errorf(codes.PermissionDenied, "this server does not serve downloads from %s: %s", dest, status.Convert(err).Message()))
			return
		}
	}
	b, err := c.opts.Open(ctx, dest)
	if err != nil {
		server.WriteError(w, err)
		return
	}
	defer b.Close()
	rc, err := b.NewReader(ctx, obj.GetName())
	if err != nil {
		c.log.WarnContext(ctx, "console download: cannot read object", "operation", name, "object", obj.GetName(), "error", err)
		server.WriteError(w, err)
		return
	}
	defer rc.Close()

	h := w.Header()
	// Served as an attachment of an opaque type, never rendered: the
	// objects hold whatever Apigee holds, markup included.
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+fileName(obj.GetName())+`"`)
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if obj.GetSize() > 0 {
		h.Set("Content-Length", strconv.FormatInt(obj.GetSize(), 10))
	}
	if r.Method == http.MethodHead {
		return
	}
	// The last byte is held back until the bytes are known to hash to the
	// object's SHA-256: if the file changed after the export, the
	// connection is cut before the response is complete, so the browser
	// reports a failed download instead of saving wrong data.
	sum := sha256.New()
	out := &progressDeadline{rc: http.NewResponseController(w), w: w}
	size := obj.GetSize()
	n, err := io.Copy(io.MultiWriter(out, sum), io.LimitReader(rc, max(size-1, 0)))
	var last []byte
	if err == nil && size > 0 {
		last, err = io.ReadAll(io.LimitReader(rc, 2)) // one byte; two: the file grew
		sum.Write(last)
	}
	switch {
	case err != nil:
		c.log.WarnContext(ctx, "console download cut short", "operation", name, "object", obj.GetName(), "bytes", n, "error", err)
	case n+int64(len(last)) != size || (obj.GetSha256() != "" && hex.EncodeToString(sum.Sum(nil)) != obj.GetSha256()):
		c.log.ErrorContext(ctx, "console download: the object changed since its export; connection cut", "operation", name, "object", obj.GetName())
	default:
		if _, err := out.Write(last); err == nil {
			return
		}
	}
	// Headers are gone: the only way left to tell the browser the
	// download failed is to end the response before Content-Length.
	panic(http.ErrAbortHandler)
}

// stallTimeout is how long a download may make no progress before it is
// cut off.
const stallTimeout = time.Minute

// progressDeadline moves the response's write deadline forward as bytes
// go out. The API server bounds a whole answer's writing (a reader that
// never reads must not hold a connection), which an object of gigabytes
// over a slow link would overrun; a download is instead cut off only when
// it stalls.
type progressDeadline struct {
	rc *http.ResponseController
	w  io.Writer
}

func (p *progressDeadline) Write(b []byte) (int, error) {
	p.rc.SetWriteDeadline(time.Now().Add(stallTimeout)) // ErrNotSupported: no deadline to move
	return p.w.Write(b)
}

// object finds object among the outputs of the finished operation name and
// returns it with the destination it lives in.
func (c *Console) object(ctx context.Context, name, object string) (*operationspb.ExportObject, string, error) {
	if err := authorize(ctx, name); err != nil {
		return nil, "", err
	}
	op, err := c.opts.Operations.Get(ctx, name)
	if err != nil {
		if status.Code(err) == codes.NotFound {
			err = notFound(name)
		}
		return nil, "", err
	}
	if !op.GetDone() || op.GetError() != nil {
		return nil, "", status.Errorf(codes.FailedPrecondition, "operation %s has not finished successfully: there is nothing to download", name)
	}
	var resp operationspb.ExportResponse
	if err := op.GetResponse().UnmarshalTo(&resp); err != nil {
		return nil, "", status.Errorf(codes.Internal, "operation %s has no export response: %v", name, err)
	}
	var found *operationspb.ExportObject
	for _, o := range append(resp.GetObjects(), resp.GetManifest()) {
		if o != nil && o.GetName() != "" && o.GetName() == object {
			found = o
		}
	}
	if found == nil {
		return nil, "", status.Errorf(codes.NotFound, "object %q is not an output of operation %s", truncate(object), name)
	}
	dest, err := destination(name, found)
	if err != nil {
		return nil, "", err
	}
	return found, dest, nil
}

// destination is the folder or prefix o lives in: its URI is that, a
// slash and its name. (The request's destination may hold placeholders,
// such as {date}, that the export filled in.)
func destination(name string, o *operationspb.ExportObject) (string, error) {
	dest, ok := strings.CutSuffix(o.GetUri(), "/"+o.GetName())
	if !ok || dest == "" {
		return "", status.Errorf(codes.Internal, "object %s of %s: URI %q does not end with its name", o.GetName(), name, o.GetUri())
	}
	return dest, nil
}

// fileName is a safe download file name for an object name.
func fileName(name string) string {
	base := path.Base(name)
	var b strings.Builder
	for _, r := range base {
		if r < 0x80 && (r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if s := strings.Trim(b.String(), "."); s != "" {
		return s
	}
	return fmt.Sprintf("object-%x", sha256.Sum256([]byte(name)))[:20]
}
