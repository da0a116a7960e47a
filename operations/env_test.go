package operations_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// pageSize is small so that tests see many pages (and checkpoints) with
// little data.
const pageSize = 10

// env is a test's real parts: the Apigee emulator on loopback, a
// destination (a folder or a bucket of the Cloud Storage emulator) and an
// operation store next to it.
type env struct {
	t    *testing.T
	data *emulator.Data
	emu  *emulator.Server
	gcs  *gcstest.Server // nil for a local destination
	dest string          // file:///DIR or gs://BUCKET/PREFIX
	// localStore is the store's folder when the backend is local.
	localStore string
	store      func() store.Store
}

type backend string

const (
	local backend = "local"
	gcs   backend = "gcs"
)

func newEnv(t *testing.T, b backend, sizes emulator.GenerateSpec, opts emulator.Options) *env {
	t.Helper()
	sizes.Org = "acme"
	data := emulator.Generate(sizes)
	emu := exporttest.Emulator(t, data, opts)
	e := &env{t: t, data: data, emu: emu}
	switch b {
	case local:
		dir := t.TempDir()
		state := t.TempDir()
		e.localStore = state
		e.dest = "file://" + dir
		e.store = func() store.Store {
			s, err := store.Local(state)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	case gcs:
		e.gcs = gcstest.Start(t, "exports")
		e.dest = "gs://exports/acme"
		e.store = func() store.Store {
			return store.GCS(e.gcs.NewClient(t).Bucket("exports"), "acme/.pubexport/")
		}
	}
	return e
}

// open is the Manager's Open: the emulator named by the request and the
// destination, through the same clients production uses.
func (e *env) open(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
	var opts []option.ClientOption
	if e.gcs != nil {
		opts = e.gcs.ClientOptions()
	}
	return openWith(opts)(ctx, req)
}

// openWith opens the emulator the request names and the destination, with
// these Cloud Storage client options (the emulator's).
func openWith(gcsOpts []option.ClientOption) operations.OpenFunc {
	return func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
		c, err := apigee.NewClient(ctx, apigee.WithBaseURL(req.GetApigeeUrl()), apigee.WithoutAuthentication(),
			apigee.WithPageSize(pageSize), apigee.WithRetry(5, time.Millisecond, 20*time.Millisecond))
		if err != nil {
			return nil, nil, err
		}
		b, err := sink.Open(ctx, req.GetDestination(), sink.WithClientOptions(gcsOpts...))
		if err != nil {
			return nil, nil, err
		}
		return export.FromClient(c), b, nil
	}
}

func (e *env) manager(holder string, mod ...func(*operations.Config)) *operations.Manager {
	e.t.Helper()
	cfg := operations.Config{
		Store:           e.store(),
		Open:            e.open,
		Holder:          holder,
		CheckpointEvery: 2,
	}
	for _, f := range mod {
		f(&cfg)
	}
	m, err := operations.New(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { m.Close() })
	return m
}

func (e *env) request(resource, format string) *operationspb.ExportRequest {
	return &operationspb.ExportRequest{
		Parent:      "organizations/acme",
		Resource:    resource,
		Format:      format,
		Destination: e.dest,
		ApigeeUrl:   e.emu.URL,
	}
}

// bucket opens the destination for inspection.
func (e *env) bucket() sink.Bucket {
	e.t.Helper()
	_, b, err := e.open(context.Background(), &operationspb.ExportRequest{ApigeeUrl: e.emu.URL, Destination: e.dest})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { b.Close() })
	return b
}

// objects lists the destination, staging included, by name.
func (e *env) objects() []string {
	e.t.Helper()
	infos, err := e.bucket().List(context.Background(), "")
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, o := range infos {
		if !strings.HasPrefix(o.Name, ".pubexport/") { // the operation store, on GCS
			names = append(names, o.Name)
		}
	}
	return names
}

func (e *env) read(name string) []byte {
	e.t.Helper()
	r, err := e.bucket().NewReader(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// checkResponse asserts a done, successful operation whose response lists
// objects that exist, with the bytes their hashes and sizes promise.
func (e *env) checkResponse(op *longrunningpb.Operation, records int) *operationspb.ExportResponse {
	e.t.Helper()
	if !op.GetDone() || op.GetError() != nil {
		e.t.Fatalf("operation not done successfully: %v", op)
	}
	resp := new(operationspb.ExportResponse)
	if err := op.GetResponse().UnmarshalTo(resp); err != nil {
		e.t.Fatal(err)
	}
	if resp.GetRecords() != int64(records) || len(resp.GetObjects()) == 0 {
		e.t.Fatalf("response: %d records in %d objects, want %d records", resp.GetRecords(), len(resp.GetObjects()), records)
	}
	var sum int64
	for _, o := range append(resp.GetObjects(), resp.GetManifest()) {
		body := e.read(o.GetName())
		h := sha256.Sum256(body)
		if got := hex.EncodeToString(h[:]); got != o.GetSha256() || int64(len(body)) != o.GetSize() {
			e.t.Fatalf("%s: sha256 %s size %d, response says %s %d", o.GetName(), got, len(body), o.GetSha256(), o.GetSize())
		}
		if !strings.Contains(o.GetName(), o.GetSha256()) || !strings.HasSuffix(o.GetUri(), o.GetName()) {
			e.t.Fatalf("object %s (uri %s) is not named by its hash %s", o.GetName(), o.GetUri(), o.GetSha256())
		}
		if o != resp.GetManifest() {
			sum += o.GetRecords()
		}
	}
	if sum != resp.GetRecords() {
		e.t.Fatalf("objects hold %d records, response says %d", sum, resp.GetRecords())
	}
	return resp
}

// hashes are the sha256 of an export's data objects, in order.
func hashes(resp *operationspb.ExportResponse) []string {
	var out []string
	for _, o := range resp.GetObjects() {
		out = append(out, o.GetSha256())
	}
	return out
}

// metadataOf: see exporttest.Metadata.
var metadataOf = exporttest.Metadata

// wantCode: see exporttest.Code.
var wantCode = exporttest.Code

// waitFor polls cond until it holds (exporttest.Eventually).
var waitFor = exporttest.Eventually

// record reads an operation's record straight from the store.
func (e *env) record(name string) (*operationspb.OperationRecord, int64) {
	e.t.Helper()
	rec, gen, err := e.store().Get(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec, gen
}

// edit changes a record behind the managers' backs, as another process
// would: a generation-checked read-modify-write.
func (e *env) edit(name string, f func(rec *operationspb.OperationRecord, op *longrunningpb.Operation, md *apigeepb.OperationMetadata)) {
	e.t.Helper()
	s := e.store()
	for {
		rec, gen, err := s.Get(context.Background(), name)
		if err != nil {
			e.t.Fatal(err)
		}
		op := new(longrunningpb.Operation)
		if err := rec.GetOperation().UnmarshalTo(op); err != nil {
			e.t.Fatal(err)
		}
		md := metadataOf(e.t, op)
		f(rec, op, md)
		if op.Metadata, err = anypb.New(md); err != nil {
			e.t.Fatal(err)
		}
		if rec.Operation, err = anypb.New(op); err != nil {
			e.t.Fatal(err)
		}
		_, err = s.Update(context.Background(), rec, gen)
		if status.Code(err) == codes.Aborted {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		return
	}
}

// leaveFor makes a record look like its runner died: IN_PROGRESS, leased
// by holder until expires.
func (e *env) leaveFor(name, holder string, expires time.Time) {
	e.edit(name, func(rec *operationspb.OperationRecord, op *longrunningpb.Operation, md *apigeepb.OperationMetadata) {
		rec.LeaseHolder, rec.LeaseExpires = holder, timestamppb.New(expires)
		if rec.Attempts == 0 {
			rec.Attempts = 1
		}
		md.State = apigeepb.OperationMetadata_IN_PROGRESS.Enum()
	})
}

// staging lists the staging objects left in the destination.
func (e *env) staging() []string {
	var out []string
	for _, n := range e.objects() {
		if strings.HasPrefix(n, export.StagingPrefix) {
			out = append(out, n)
		}
	}
	return out
}

func (e *env) finals() []string {
	var out []string
	for _, n := range e.objects() {
		if strings.HasPrefix(n, "ExportFinal_") {
			out = append(out, n)
		}
	}
	return out
}

func newStorageClient(t *testing.T, url string) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background(), option.WithEndpoint(url+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
