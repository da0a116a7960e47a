// Package sink is where exports land: a Cloud Storage bucket (gs://BUCKET/PREFIX)
// or a local folder (file:///DIR or a plain path), behind one small interface.
//
// The export pipeline writes staging objects, joins them with Compose and makes
// the result visible with Publish. Publish never overwrites and never exposes a
// partial object, so a reader of the destination sees either nothing or a
// complete object, whatever happens to the writer.
//
// Every error a caller sees carries a gRPC code (google.golang.org/grpc/status)
// and says what to fix.
package sink

import (
	"context"
	"io"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
)

// Attrs are the attributes a published or composed object carries.
// A file:// destination has nowhere to keep them and ignores them.
type Attrs struct {
	ContentType     string
	ContentEncoding string
	Metadata        map[string]string
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Name    string // relative to the destination prefix
	Size    int64
	CRC32C  uint32 // Castagnoli; 0 when not known (file:// List does not read the files)
	Created time.Time
}

// Writer writes one object. Nothing is visible under its name before Close
// succeeds; after Abort nothing is left at all.
type Writer interface {
	io.Writer
	// Close completes the object and returns what the store holds, with a
	// size and CRC32C checked against the bytes written.
	Close() (ObjectInfo, error)
	// Abort discards the object. It is safe after Close and more than once.
	Abort()
}

// Bucket is a destination. Names are relative to the destination prefix
// and use "/" as separator. A Bucket is safe for concurrent use; a Writer
// is not.
type Bucket interface {
	// Check verifies the destination before an export writes to it: it
	// exists (or can be created) and the caller may create, read, list and
	// delete objects. It answers NOT_FOUND, PERMISSION_DENIED or
	// UNAUTHENTICATED with what to do about it.
	Check(ctx context.Context) error
	NewWriter(ctx context.Context, name string, a Attrs) (Writer, error)
	NewReader(ctx context.Context, name string) (io.ReadCloser, error)
	// List returns the objects whose name starts with prefix (no delimiter:
	// names in "subfolders" are included), sorted by name.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes an object; a missing object is not an error.
	Delete(ctx context.Context, name string) error
	// Compose writes the concatenation of srcs to dst (any number of sources).
	Compose(ctx context.Context, dst string, srcs []string, a Attrs) (ObjectInfo, error)
	// Publish copies src to dst unless dst exists. When dst exists it
	// returns dst's info with created=false and no error: published names
	// are content hashes, so an existing dst holds the same bytes (callers
	// compare Size and CRC32C to be sure).
	Publish(ctx context.Context, src, dst string, a Attrs) (info ObjectInfo, created bool, err error)
	// URI names an object for people and manifests: gs://bucket/prefix/name
	// or file:///dir/name.
	URI(name string) string
	// Close releases the client; it does not close a client passed with
	// WithClient.
	Close() error
}

// Defaults for Cloud Storage destinations.
const (
	// DefaultChunkSize is the resumable upload chunk: each open writer
	// buffers this much, and a failed chunk is resent whole.
	DefaultChunkSize = 16 << 20
	// DefaultRetryAttempts bounds every Cloud Storage call, including the
	// ones the client library would not retry by itself.
	DefaultRetryAttempts = 8
)

// Option configures Open. Options about Cloud Storage are ignored for a
// local destination.
type Option func(*config)

type config struct {
	client        *storage.Client
	clientOptions []option.ClientOption
	chunkSize     int
	attempts      int
	backoffMin    time.Duration
	backoffMax    time.Duration
}

func newConfig(opts []Option) config {
	c := config{
		chunkSize:  DefaultChunkSize,
		attempts:   DefaultRetryAttempts,
		backoffMin: 250 * time.Millisecond,
		backoffMax: 32 * time.Second,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithClient makes Open use c instead of creating a client. The bucket does
// not close it.
func WithClient(c *storage.Client) Option {
	return func(cfg *config) { cfg.client = c }
}

// WithClientOptions are passed to storage.NewClient, e.g. option.WithEndpoint
// and option.WithoutAuthentication for an emulator. STORAGE_EMULATOR_HOST is
// honoured without any option.
func WithClientOptions(opts ...option.ClientOption) Option {
	return func(cfg *config) { cfg.clientOptions = append(cfg.clientOptions, opts...) }
}

// WithChunkSize sets the resumable upload chunk size in bytes. The client
// rounds it up to a multiple of 256 KiB; tests lower it to exercise
// multi-chunk uploads with little data.
func WithChunkSize(n int) Option {
	return func(cfg *config) {
		if n > 0 {
			cfg.chunkSize = n
		}
	}
}

// WithRetry sets how often and how patiently every Cloud Storage call is
// retried on 408, 429, 5xx and network errors: at most attempts calls, with
// jittered exponential backoff from min up to max.
func WithRetry(attempts int, min, max time.Duration) Option {
	return func(cfg *config) {
		if attempts > 0 {
			cfg.attempts = attempts
		}
		if min > 0 {
			cfg.backoffMin = min
		}
		if max >= min && max > 0 {
			cfg.backoffMax = max
		}
	}
}

// Open returns the destination dest names: gs://BUCKET[/PREFIX] for Cloud
// Storage with Application Default Credentials, or file:///DIR or a plain
// path for a local folder. dest is validated before any I/O; errors are
// INVALID_ARGUMENT and wrap a *field.Error about the destination, which
// each front door names its own way.
func Open(ctx context.Context, dest string, opts ...Option) (Bucket, error) {
	d, err := parseDest(dest)
	if err != nil {
		return nil, err
	}
	cfg := newConfig(opts)
	if d.bucket != "" {
		return openGCS(ctx, d, cfg)
	}
	return openLocal(d)
}
