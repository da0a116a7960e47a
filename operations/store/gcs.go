package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/sink"
	"pubexport/operations/operationspb"
)

// maxRecordSize bounds what Get reads: a record holds one checkpoint, whose
// size grows with the number of published objects, far below this.
const maxRecordSize = 64 << 20

// Retries. Every call is retried on 408, 429, 5xx and network errors with
// the data path's policy (export/sink: sink.DefaultRetryAttempts calls,
// exponential backoff from 250 ms): writes carry DoesNotExist or
// GenerationMatch preconditions, so a repeat of a write that landed fails
// its precondition, which Create and the Manager's saves recognise as their
// own write. callTimeout bounds a whole call, retries included, so that an
// endpoint that accepts requests and never answers cannot hold a caller
// (Cloud Storage's client has no request timeout of its own).
const (
	callTimeout   = 30 * time.Second
	backoffMin    = 250 * time.Millisecond
	backoffMax    = 32 * time.Second
	chunkSize     = 256 << 10 // the smallest chunk; a record fits one
	maxReadTries  = 5         // of read's attributes-then-generation loop
	readRetryBase = 100 * time.Millisecond
)

// GCS returns a Store in a Cloud Storage bucket under prefix ("" or ending
// in "/", e.g. "exports/.pubexport/"), usually the export destination's own
// bucket, so that a deployment needs nothing but the bucket. Generations
// are the objects' generations and writes carry DoesNotExist or
// GenerationMatch preconditions: Cloud Storage decides every race.
// The caller owns the client behind b.
func GCS(b *storage.BucketHandle, prefix string) Store {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	b = b.Retryer(
		storage.WithPolicy(storage.RetryAlways),
		storage.WithMaxAttempts(sink.DefaultRetryAttempts),
		storage.WithBackoff(gax.Backoff{Initial: backoffMin, Max: backoffMax, Multiplier: 2}),
	)
	return &gcs{b: b, prefix: prefix}
}

type gcs struct {
	b      *storage.BucketHandle
	prefix string
	cache  recordCache
}

func (s *gcs) object(rel string) *storage.ObjectHandle { return s.b.Object(s.prefix + rel) }

// bounded gives one store call at most callTimeout, retries included.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout)
}

// read returns an object's bytes and generation. It asks for the attributes
// first and then reads that generation, so the two always agree; if the
// object changed in between it tries again, a few times with backoff: an
// endpoint that lists attributes but answers 404 for every read (a
// misrouted emulator host, a proxy) must fail the call, not spin.
func (s *gcs) read(ctx context.Context, rel string) ([]byte, int64, error) {
	o := s.object(rel)
	wait := readRetryBase
	for try := 1; ; try++ {
		attrs, err := o.Attrs(ctx)
		if err != nil {
			return nil, 0, err
		}
		r, err := o.Generation(attrs.Generation).NewReader(ctx)
		if errors.Is(err, storage.ErrObjectNotExist) {
			// Replaced since Attrs: read the new one.
			if try == maxReadTries {
				return nil, 0, fmt.Errorf("generation %d of %s was listed but not found %d times in a row (if nothing rewrites it that often, "+
					"the storage endpoint serves metadata and downloads from different places; check STORAGE_EMULATOR_HOST or the proxy): %w",
					attrs.Generation, o.ObjectName(), try, errUnreadable)
			}
			select {
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		b, err := io.ReadAll(io.LimitReader(r, maxRecordSize))
		r.Close()
		if err != nil {
			return nil, 0, err
		}
		return b, attrs.Generation, nil
	}
}

// errUnreadable marks a read that kept finding its object gone.
var errUnreadable = errors.New("object unreadable")

// write stores body under rel if cond holds and returns the new generation.
// ChunkSize is not 0: with 0 the storage client streams the body and can
// retry nothing; with a chunk it buffers the body (a record fits one chunk,
// sent as one multipart request) and retries it.
func (s *gcs) write(ctx context.Context, rel string, body []byte, cond storage.Conditions) (int64, error) {
	ctx, cancel := bounded(ctx)
	defer cancel() // also abandons the upload if Write fails
	w := s.object(rel).If(cond).NewWriter(ctx)
	w.ChunkSize = chunkSize
	w.ContentType = "application/json"
	if _, err := w.Write(body); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return w.Attrs().Generation, nil
}

func (s *gcs) Get(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error) {
	rec, gen, err := s.Peek(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	return proto.Clone(rec).(*operationspb.OperationRecord), gen, nil
}

// Peek reads the object every time (another process may have written it)
// and returns the cache's own record when its bytes are unchanged (see
// recordCache.decode).
func (s *gcs) Peek(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error) {
	if _, _, err := SplitName(name); err != nil {
		return nil, 0, err
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	b, gen, err := s.read(ctx, recordPath(name))
	if err != nil {
		return nil, 0, s.error(err, name, "reading")
	}
	rec, _, err := s.cache.decode(name, b, func(b []byte) (*operationspb.OperationRecord, int64, error) {
		rec, err := decode(name, b)
		return rec, 0, err
	})
	if err != nil {
		return nil, 0, err
	}
	return rec, gen, nil
}

func (s *gcs) Create(ctx context.Context, rec *operationspb.OperationRecord) (int64, error) {
	name, err := RecordName(rec)
	if err != nil {
		return 0, err
	}
	body, err := encode(rec)
	if err != nil {
		return 0, err
	}
	gen, err := s.write(ctx, recordPath(name), body, storage.Conditions{DoesNotExist: true})
	if isPrecondition(err) {
		return 0, alreadyExists(name)
	}
	if err != nil {
		return 0, s.error(err, name, "creating")
	}
	return gen, nil
}

func (s *gcs) Update(ctx context.Context, rec *operationspb.OperationRecord, generation int64) (int64, error) {
	name, err := RecordName(rec)
	if err != nil {
		return 0, err
	}
	if generation <= 0 {
		return 0, conflict(name)
	}
	body, err := encode(rec)
	if err != nil {
		return 0, err
	}
	gen, err := s.write(ctx, recordPath(name), body, storage.Conditions{GenerationMatch: generation})
	if isPrecondition(err) {
		return 0, conflict(name)
	}
	if err != nil {
		return 0, s.error(err, name, "updating")
	}
	return gen, nil
}

func (s *gcs) Delete(ctx context.Context, name string) error {
	if _, _, err := SplitName(name); err != nil {
		return err
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	if err := s.object(recordPath(name)).Delete(ctx); err != nil {
		return s.error(err, name, "deleting")
	}
	return nil
}

func (s *gcs) List(ctx context.Context, parent string) ([]string, error) {
	if err := CheckParent(parent, true); err != nil {
		return nil, err
	}
	q := &storage.Query{Prefix: s.prefix + listPrefix(parent)}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return nil, status.Errorf(codes.Internal, "listing operations: %v", err)
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	var names []string
	it := s.b.Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, s.error(err, parent, "listing operations of")
		}
		if name, ok := nameFromPath(strings.TrimPrefix(a.Name, s.prefix)); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (s *gcs) ClaimRequest(ctx context.Context, parent, requestID, name string) (string, error) {
	rel := requestPath(parent, requestID)
	body, err := json.Marshal(claim{Name: name})
	if err != nil {
		return "", status.Errorf(codes.Internal, "encoding a request claim: %v", err)
	}
	_, err = s.write(ctx, rel, body, storage.Conditions{DoesNotExist: true})
	if err == nil {
		return name, nil
	}
	if !isPrecondition(err) {
		return "", s.error(err, parent, "claiming a request id of")
	}
	owner, _, err := s.readClaim(ctx, rel)
	if err != nil {
		return "", err
	}
	if owner == "" {
		// Released between our write and our read: try once more.
		return s.ClaimRequest(ctx, parent, requestID, name)
	}
	return owner, nil
}

func (s *gcs) ReleaseRequest(ctx context.Context, parent, requestID, name string) error {
	rel := requestPath(parent, requestID)
	ctx, cancel := bounded(ctx)
	defer cancel()
	owner, gen, err := s.readClaim(ctx, rel)
	if err != nil || owner != name {
		return err
	}
	err = s.object(rel).If(storage.Conditions{GenerationMatch: gen}).Delete(ctx)
	if err != nil && !errors.Is(err, storage.ErrObjectNotExist) && !isPrecondition(err) {
		return s.error(err, parent, "releasing a request id of")
	}
	return nil
}

func (s *gcs) readClaim(ctx context.Context, rel string) (string, int64, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	b, gen, err := s.read(ctx, rel)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, s.error(err, rel, "reading request claim")
	}
	var c claim
	if err := json.Unmarshal(b, &c); err != nil || c.Name == "" {
		return "", 0, status.Errorf(codes.DataLoss, "request claim %s%s is damaged; delete it", s.prefix, rel)
	}
	return c.Name, gen, nil
}

func isPrecondition(err error) bool {
	var e *googleapi.Error
	return errors.As(err, &e) && e.Code == http.StatusPreconditionFailed
}

// error gives a Cloud Storage error a gRPC code and says what failed.
func (s *gcs) error(err error, name, what string) error {
	if errors.Is(err, storage.ErrObjectNotExist) {
		return notFound(name)
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return wrap(codes.NotFound, err, "%s %s: the operation store's bucket does not exist", what, name)
	}
	if errors.Is(err, errUnreadable) {
		return wrap(codes.Unavailable, err, "%s %s", what, name)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return wrap(codes.DeadlineExceeded, err, "%s %s: Cloud Storage did not answer in time (retries included)", what, name)
	}
	if errors.Is(err, context.Canceled) {
		return status.FromContextError(err).Err()
	}
	code := codes.Unavailable
	var e *googleapi.Error
	if errors.As(err, &e) {
		switch {
		case e.Code == http.StatusUnauthorized:
			code = codes.Unauthenticated
		case e.Code == http.StatusForbidden:
			return wrap(codes.PermissionDenied, err, "%s %s: grant the caller roles/storage.objectUser on the bucket", what, name)
		case e.Code == http.StatusNotFound:
			code = codes.NotFound
		case e.Code == http.StatusTooManyRequests:
			code = codes.ResourceExhausted
		case e.Code >= 400 && e.Code < 500:
			code = codes.FailedPrecondition
		}
	}
	return wrap(code, err, "%s %s", what, name)
}
