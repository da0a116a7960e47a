package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/cmd/pubexport/internal/jobenv"
	"pubexport/cmd/pubexport/internal/opsclient"
	"pubexport/export/apigee"
	"pubexport/export/layout"
	"pubexport/export/sink"
	"pubexport/formats/field"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// backend is where exports run and operations live, as `run` and
// `operations` see it: an operations.Manager in this process, or a
// `pubexport serve` API reached over the network. Both answer the same
// calls, so watching, printing and cancelling are written once.
type backend interface {
	Export(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error)
	Get(ctx context.Context, name string) (*longrunningpb.Operation, error)
	List(ctx context.Context, parent, filter string, limit int) ([]*longrunningpb.Operation, error)
	Cancel(ctx context.Context, name string) error
	Close() error
}

var _ backend = (*opsclient.Client)(nil)

// local is a backend running exports in this process.
type local struct {
	m       *operations.Manager
	st      store.Store
	lease   time.Duration // the manager's lease duration
	cleanup []func() error
}

func (l *local) Export(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	return l.m.Start(ctx, req)
}

func (l *local) Get(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	return l.m.Get(ctx, name)
}

func (l *local) List(ctx context.Context, parent, filter string, limit int) ([]*longrunningpb.Operation, error) {
	var all []*longrunningpb.Operation
	token := ""
	for {
		ops, next, err := l.m.List(ctx, parent, filter, 0, token)
		if err != nil {
			return nil, err
		}
		all = append(all, ops...)
		if next == "" || (limit > 0 && len(all) >= limit) {
			break
		}
		token = next
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

func (l *local) Cancel(ctx context.Context, name string) error { return l.m.Cancel(ctx, name) }

// Wait returns when the operation ends (see ender).
func (l *local) Wait(ctx context.Context, name string, timeout time.Duration) (*longrunningpb.Operation, error) {
	return l.m.Wait(ctx, name, timeout)
}

// Suspend stops the exports this process runs at their last checkpoint,
// keeping them resumable (`pubexport operations resume`), and waits until
// they are saved. The manager accepts no more work.
func (l *local) Suspend() error { return l.m.Close() }

// Close suspends exports still running (none after a watched run) and
// releases the store.
func (l *local) Close() error {
	err := l.m.Close()
	for i := len(l.cleanup) - 1; i >= 0; i-- {
		if cerr := l.cleanup[i](); err == nil {
			err = cerr
		}
	}
	return err
}

// openStore opens the operation store at uri: file:///DIR, a plain folder
// path, or gs://BUCKET/PREFIX (Application Default Credentials; the
// STORAGE_EMULATOR_HOST variable is honoured for tests, see
// storageOptions). With a legacy URI (see storeFor), records an earlier
// release kept there are still found.
func openStore(ctx context.Context, a *app, flag, uri string, legacy ...string) (store.Store, func() error, error) {
	if len(legacy) > 0 && legacy[0] != "" {
		st, closeSt, err := openStore(ctx, a, flag, uri)
		if err != nil {
			return nil, nil, err
		}
		old, closeOld, err := openStore(ctx, a, flag, legacy[0])
		if err != nil {
			closeSt()
			return nil, nil, err
		}
		return store.WithLegacy(st, old), func() error { return errors.Join(closeSt(), closeOld()) }, nil
	}
	st, closeSt, err := store.Open(ctx, uri, storageOptions(a)...)
	var fe *field.Error
	if errors.As(err, &fe) && status.Code(err) == codes.InvalidArgument {
		// flag is how the user gave the store (a flag, or the variable
		// it was derived from).
		return nil, nil, usagef("%s", fe.Named(flag))
	}
	if err != nil {
		return nil, nil, err
	}
	if loc, _ := sink.ParseURI(uri); loc.Bucket != "" {
		st = bucketErrors{st, loc.Bucket, flag}
	}
	return st, closeSt, nil
}

func noClose() error { return nil }

// storeFor is the default operation store of a destination, so that
// operations are found where their objects are and need no setup of their
// own: gs://BUCKET/.pubexport/operations for Cloud Storage, out of the data's
// prefix (a lifecycle rule on the prefix must not delete operations), and
// ROOT/.pubexport/operations for a folder, ROOT being the destination before
// any placeholder. legacy is where releases before that kept the operations
// of a gs:// destination, DESTINATION/.pubexport/operations ("" when it is
// the same place), still read so that their operations are found.
func storeFor(dest string) (uri, legacy string) {
	if rest, ok := strings.CutPrefix(dest, "gs://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		uri = "gs://" + bucket + "/.pubexport/operations"
		if strings.Trim(prefix, "/") != "" && !layout.HasPlaceholders(dest) {
			legacy = strings.TrimSuffix(dest, "/") + "/.pubexport/operations"
		}
		return uri, legacy
	}
	return strings.TrimSuffix(layout.Root(dest), "/") + "/.pubexport/operations", ""
}

// newLocal builds the in-process backend on the store at storeURI (and
// legacy, see storeFor).
func newLocal(ctx context.Context, a *app, flag, storeURI string, log *slog.Logger, legacy ...string) (*local, error) {
	lease, err := leaseFromEnv(a.getenv)
	if err != nil {
		return nil, err
	}
	st, closeStore, err := openStore(ctx, a, flag, storeURI, legacy...)
	if err != nil {
		return nil, err
	}
	m, closeNotifier, err := newManager(ctx, a, st, log, "", lease)
	if err != nil {
		closeStore()
		return nil, err
	}
	return &local{m: m, st: st, lease: lease, cleanup: []func() error{closeStore, closeNotifier}}, nil
}

// newManager is the operations manager every command uses: the store, the
// logger, a lease holder name ("" for a random one) and the lease duration.
// Sources and destinations are the manager's default: the Apigee API, which
// sends credentials only to an https:// base URL (so the emulator and the
// offline sample run need none), and sink.Open. Ended operations are
// published to the --notify topic (PUBEXPORT_NOTIFY), if any;
// closeNotifier releases it after the manager is closed.
func newManager(ctx context.Context, a *app, st store.Store, log *slog.Logger, holder string, lease time.Duration) (m *operations.Manager, closeNotifier func() error, err error) {
	timeout, err := apigeeTimeout(a)
	if err != nil {
		return nil, nil, err
	}
	n, closeNotifier, err := openNotifier(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	parallel, err := maxParallelRequests(a)
	if err != nil {
		closeNotifier()
		return nil, nil, err
	}
	m, err = operations.New(ctx, operations.Config{Store: st, Logger: log, Holder: holder, LeaseDuration: lease, Now: a.now, Notify: n,
		ApigeeOptions: []apigee.Option{apigee.WithTimeout(timeout)}, SinkOptions: sinkOptions(a), MaxParallelRequests: parallel})
	if err != nil {
		closeNotifier()
		return nil, nil, err
	}
	return m, closeNotifier, nil
}

// apigeeTimeoutVar is the environment's --apigee-timeout (for the job).
const apigeeTimeoutVar = "PUBEXPORT_APIGEE_TIMEOUT"

// apigeeTimeout is the deadline of each Apigee request: --apigee-timeout,
// else PUBEXPORT_APIGEE_TIMEOUT, else 0 (apigee.DefaultTimeout).
func apigeeTimeout(a *app) (time.Duration, error) {
	if a.apigeeTimeout != 0 {
		if a.apigeeTimeout < 0 {
			return 0, usagef("--apigee-timeout %v: want a positive duration such as 60s", a.apigeeTimeout)
		}
		return a.apigeeTimeout, nil
	}
	v := strings.TrimSpace(a.getenv(apigeeTimeoutVar))
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usagef("%s=%q: want a positive Go duration such as 60s", apigeeTimeoutVar, v)
	}
	return d, nil
}

// maxParallelVar is the environment's --max-parallel-requests (for the job).
const maxParallelVar = jobenv.MaxParallel

// maxParallelRequests is the cap on Apigee requests in flight for each
// export: --max-parallel-requests, else PUBEXPORT_MAX_PARALLEL_REQUESTS,
// else 0 (apigee.DefaultParallelRequests). Out of range is a usage error.
func maxParallelRequests(a *app) (int, error) {
	valid := fmt.Sprintf("want 1 to %d requests in flight", apigee.MaxParallelRequests)
	if a.maxParallelSet {
		if apigee.CheckParallelRequests(a.maxParallel) != nil {
			return 0, usagef("--max-parallel-requests %d: %s", a.maxParallel, valid)
		}
		return a.maxParallel, nil
	}
	v := strings.TrimSpace(a.getenv(maxParallelVar))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || apigee.CheckParallelRequests(n) != nil {
		return 0, usagef("%s=%q: %s", maxParallelVar, v, valid)
	}
	return n, nil
}

// leaseVar overrides operations.DefaultLeaseDuration. It is for tests only
// (and deliberately left out of every --help): a short lease lets a test see
// a dead runner's lease lapse, and serve's Recover ticker fire, in a second.
// A lease shorter than a few round trips to the store would let a live
// runner lose its exports.
const leaseVar = "PUBEXPORT_LEASE"

// leaseFromEnv is the lease duration every manager of this process uses.
func leaseFromEnv(getenv func(string) string) (time.Duration, error) {
	v := strings.TrimSpace(getenv(leaseVar))
	if v == "" {
		return operations.DefaultLeaseDuration, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usagef("%s=%q: want a positive Go duration such as 30s (this variable is for tests)", leaseVar, v)
	}
	return d, nil
}
