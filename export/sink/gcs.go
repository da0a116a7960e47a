package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
)

// maxComposeSources is Cloud Storage's limit of sources per compose call.
const maxComposeSources = 32

// composeCleanupTimeout bounds the deletion of a compose's intermediate
// objects. It runs even when the caller's context is cancelled, or they
// would be left behind; but every delete is retried (RetryAlways, by
// default 8 attempts with backoff up to 32 s), so without a bound a
// cancelled export against an unwell Cloud Storage would hang in cleanup
// for minutes. Two minutes, as for export.Cleanup: what it does not
// delete lies under the run's staging names, which that cleanup removes.
const composeCleanupTimeout = 2 * time.Minute

// gcsBucket is a Cloud Storage destination.
//
// Every handle it makes retries with storage.RetryAlways: the client alone
// retries copy, compose, delete, and upload session starts only when they
// carry a precondition. Each of our calls is safe to repeat: writes and
// composes target names only this run writes (a repeat rewrites the same
// bytes), the publish copy has a DoesNotExist precondition, and deleting a
// missing object counts as success.
type gcsBucket struct {
	client    *storage.Client
	ownClient bool
	bucket    *storage.BucketHandle
	name      string // bucket name
	prefix    string // "" or ends in "/"
	chunkSize int
	retry     []storage.RetryOption
	anonymous bool // our client has no credentials, so it cannot sign
	// cleanupTimeout is composeCleanupTimeout and settleTimeout is
	// settleTimeout; tests shorten them.
	cleanupTimeout time.Duration
	settleTimeout  time.Duration
}

func openGCS(ctx context.Context, d dest, cfg config) (Bucket, error) {
	b := &gcsBucket{
		client:         cfg.client,
		name:           d.bucket,
		prefix:         d.prefix,
		chunkSize:      cfg.chunkSize,
		cleanupTimeout: composeCleanupTimeout,
		settleTimeout:  settleTimeout,
		retry: []storage.RetryOption{
			storage.WithPolicy(storage.RetryAlways),
			storage.WithMaxAttempts(cfg.attempts),
			storage.WithBackoff(gax.Backoff{Initial: cfg.backoffMin, Max: cfg.backoffMax, Multiplier: 2}),
		},
	}
	if b.client == nil {
		c, err := storage.NewClient(ctx, cfg.clientOptions...)
		if err != nil {
			return nil, newError(codes.Unauthenticated, err, "creating a Cloud Storage client for gs://%s: no usable credentials; %s", d.bucket, loginHint)
		}
		b.client, b.ownClient = c, true
		b.anonymous = anonymous(cfg.clientOptions)
	}
	b.bucket = b.client.Bucket(d.bucket).Retryer(b.retry...)
	return b, nil
}

func (b *gcsBucket) full(name string) string { return b.prefix + name }

func (b *gcsBucket) URI(name string) string { return "gs://" + b.name + "/" + b.full(name) }

// object returns a handle for a name under the prefix, checking the name.
func (b *gcsBucket) object(name string) (*storage.ObjectHandle, error) {
	if err := checkName(name, b.full(name)); err != nil {
		return nil, err
	}
	return b.bucket.Object(b.full(name)).Retryer(b.retry...), nil
}

func (b *gcsBucket) info(a *storage.ObjectAttrs) ObjectInfo {
	return ObjectInfo{
		Name:    strings.TrimPrefix(a.Name, b.prefix),
		Size:    a.Size,
		CRC32C:  a.CRC32C,
		Created: a.Created,
	}
}

func (b *gcsBucket) NewReader(ctx context.Context, name string) (io.ReadCloser, error) {
	o, err := b.object(name)
	if err != nil {
		return nil, err
	}
	// Stored bytes, not a gzip-decoded rendition: what was written is what
	// is read, as with a local folder.
	r, err := o.ReadCompressed(true).NewReader(ctx)
	if err != nil {
		return nil, gcsError(err, b.name, "reading "+b.URI(name))
	}
	return r, nil
}

func (b *gcsBucket) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if prefix != "" {
		if err := checkPath(strings.TrimSuffix(prefix, "/")); err != nil {
			return nil, newError(codes.InvalidArgument, nil, "listing prefix %q: it %v", prefix, err)
		}
	}
	q := &storage.Query{Prefix: b.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "CRC32C", "Created"}); err != nil {
		return nil, newError(codes.Internal, err, "listing %s", b.URI(prefix))
	}
	var out []ObjectInfo
	it := b.bucket.Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, gcsError(err, b.name, "listing "+b.URI(prefix))
		}
		if strings.HasSuffix(a.Name, "/") {
			continue // a folder placeholder, not an object anyone wrote here
		}
		out = append(out, b.info(a))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (b *gcsBucket) Delete(ctx context.Context, name string) error {
	o, err := b.object(name)
	if err != nil {
		return err
	}
	err = o.Delete(ctx)
	if err == nil || httpCode(err) == 404 {
		return nil
	}
	return gcsError(err, b.name, "deleting "+b.URI(name))
}

func (b *gcsBucket) Publish(ctx context.Context, src, dst string, a Attrs) (ObjectInfo, bool, error) {
	so, err := b.object(src)
	if err != nil {
		return ObjectInfo{}, false, err
	}
	do, err := b.object(dst)
	if err != nil {
		return ObjectInfo{}, false, err
	}
	// Look first: the DoesNotExist precondition below is what guarantees
	// no overwrite on Cloud Storage, but emulators ignore it on copies.
	if info, ok, err := b.existing(ctx, do, dst); err != nil || ok {
		return info, false, err
	}
	c := do.If(storage.Conditions{DoesNotExist: true}).CopierFrom(so)
	c.ContentType = a.ContentType
	c.ContentEncoding = a.ContentEncoding
	c.Metadata = a.Metadata
	attrs, err := settle(ctx, b.settleTimeout, c.Run)
	switch code := httpCode(err); {
	case err == nil:
		return b.info(attrs), true, nil
	case code == 412:
		// Someone published it first, or a retry of our own copy met the
		// object the first attempt created. Either way dst is complete.
		info, ok, err := b.existing(ctx, do, dst)
		if err == nil && !ok {
			err = newError(codes.Aborted, nil, "publishing %s: it existed a moment ago and is gone now", b.URI(dst))
		}
		return info, false, err
	case code == 404:
		return ObjectInfo{}, false, newError(codes.NotFound, err, "publishing %s: the source %s does not exist", b.URI(dst), b.URI(src))
	default:
		return ObjectInfo{}, false, gcsError(err, b.name, fmt.Sprintf("publishing %s as %s", b.URI(src), b.URI(dst)))
	}
}

// existing returns the info of an object, ok=false when it does not exist.
func (b *gcsBucket) existing(ctx context.Context, o *storage.ObjectHandle, name string) (ObjectInfo, bool, error) {
	attrs, err := o.Attrs(ctx)
	if err == nil {
		return b.info(attrs), true, nil
	}
	if httpCode(err) == 404 {
		return ObjectInfo{}, false, nil
	}
	return ObjectInfo{}, false, gcsError(err, b.name, "looking up "+b.URI(name))
}

// Compose concatenates srcs into dst. Beyond 32 sources it composes groups
// of 32 into intermediate objects (named after dst) and those in turn,
// deleting the intermediates at the end whatever happens.
func (b *gcsBucket) Compose(ctx context.Context, dst string, srcs []string, a Attrs) (ObjectInfo, error) {
	if len(srcs) == 0 {
		return ObjectInfo{}, newError(codes.InvalidArgument, nil, "composing %s: no sources", b.URI(dst))
	}
	level := make([]*storage.ObjectHandle, len(srcs))
	for i, s := range srcs {
		o, err := b.object(s)
		if err != nil {
			return ObjectInfo{}, err
		}
		level[i] = o
	}
	do, err := b.object(dst)
	if err != nil {
		return ObjectInfo{}, err
	}
	var temps []string
	defer func() {
		if len(temps) == 0 {
			return
		}
		// Best effort, bounded: see composeCleanupTimeout.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cleanupTimeout)
		defer cancel()
		for _, t := range temps {
			_ = b.Delete(ctx, t)
		}
	}()
	for round := 0; len(level) > maxComposeSources; round++ {
		var next []*storage.ObjectHandle
		for i := 0; i < len(level); i += maxComposeSources {
			group := level[i:min(i+maxComposeSources, len(level))]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			name := fmt.Sprintf("%s.compose-%d-%d", dst, round, i/maxComposeSources)
			to, err := b.object(name)
			if err != nil {
				return ObjectInfo{}, err
			}
			temps = append(temps, name)
			if _, err := settle(ctx, b.settleTimeout, to.ComposerFrom(group...).Run); err != nil {
				return ObjectInfo{}, b.composeError(err, dst)
			}
			next = append(next, to)
		}
		level = next
	}
	c := do.ComposerFrom(level...)
	c.ContentType = a.ContentType
	c.ContentEncoding = a.ContentEncoding
	c.Metadata = a.Metadata
	attrs, err := settle(ctx, b.settleTimeout, c.Run)
	if err != nil {
		return ObjectInfo{}, b.composeError(err, dst)
	}
	return b.info(attrs), nil
}

func (b *gcsBucket) composeError(err error, dst string) error {
	if httpCode(err) == 404 {
		return newError(codes.NotFound, err, "composing %s: a source object does not exist", b.URI(dst))
	}
	return gcsError(err, b.name, "composing "+b.URI(dst))
}

func (b *gcsBucket) Close() error {
	if !b.ownClient {
		return nil
	}
	return b.client.Close()
}
