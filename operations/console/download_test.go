package console_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
	"pubexport/operations"
	"pubexport/operations/console"
	"pubexport/operations/operationspb"
	"pubexport/operations/server"
	"pubexport/operations/store"
)

// TestDownloadEndpoint: the console's download streams only the outputs
// of finished operations, from destinations the policy allows, and cuts
// the connection rather than deliver bytes that no longer match the
// object's hash.
func TestDownloadEndpoint(t *testing.T) {
	t.Parallel()
	e := startEnv(t, server.NoAuth())
	name := exportDone(t, e, "acme", "developers")
	op, err := e.m.Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	obj := objectsOf(t, op)[0]
	running, err := e.m.Start(t.Context(), &operationspb.ExportRequest{
		Parent: "organizations/bigco", Resource: "developers", Destination: "file://" + e.dest, ApigeeUrl: e.emu.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.m.Cancel(context.Background(), running.GetName()) })
	u := func(q url.Values) string { return e.url + "/v1/console/download?" + q.Encode() }

	for _, c := range []struct {
		what string
		url  string
		want int
		msg  string
	}{
		{"an object", u(url.Values{"operation": {name}, "object": {obj.GetName()}}), 200, ""},
		{"another file", u(url.Values{"operation": {name}, "object": {"../../etc/passwd"}}), 404, "is not an output of operation"},
		{"a running export", u(url.Values{"operation": {running.GetName()}, "object": {obj.GetName()}}), 400, "has not finished"},
		{"no such operation", u(url.Values{"operation": {"organizations/acme/operations/nope"}, "object": {"x"}}), 404, "not found"},
		{"a bad name", u(url.Values{"operation": {"acme"}, "object": {"x"}}), 400, "not an operation name"},
		{"a misspelt parameter", u(url.Values{"operation": {name}, "objet": {"x"}}), 400, `unknown query parameter`},
		{"a missing parameter", u(url.Values{"operation": {name}}), 400, "object: missing"},
	} {
		res := get(t, c.url, "")
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != c.want || !strings.Contains(string(b), c.msg) {
			t.Errorf("%s: %s %s, want %d %q", c.what, res.Status, b, c.want, c.msg)
		}
	}
	// POST is not a download.
	res, err := http.Post(u(url.Values{"operation": {name}, "object": {obj.GetName()}}), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %s %v", res.Status, res.Header)
	}

	// The file changed after the export: the transfer is cut short.
	p := filepath.Join(e.dest, obj.GetName())
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, bytes.Repeat([]byte("x"), len(orig)), 0o644)
	res = get(t, u(url.Values{"operation": {name}, "object": {obj.GetName()}}), "")
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Errorf("a changed object was delivered whole (%s)", res.Status)
	}
}

// TestDownloadOutlastsWriteDeadline: the API server bounds how long an
// answer may take to write; a download moves that bound as it makes
// progress, so a large object still arrives whole.
func TestDownloadOutlastsWriteDeadline(t *testing.T) {
	t.Parallel()
	e := startEnv(t, server.NoAuth())
	name := exportDone(t, e, "acme", "apps")
	op, err := e.m.Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	obj := objectsOf(t, op)[0]

	// A second server on the same manager whose answers must be written
	// within about a millisecond.
	// Its objects are read slowly, so that the writing outlasts that.
	c, err := console.New(console.Options{Operations: e.m, Records: e.st,
		Open: func(ctx context.Context, dest string) (sink.Bucket, error) {
			b, err := sink.Open(ctx, dest)
			return slowBucket{b}, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(e.m, server.Options{Auth: server.NoAuth(), MaxWait: time.Millisecond, BodyTimeout: time.Millisecond,
		Pages: c.Pages(), Routes: c.Routes()})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
	}()
	res := get(t, "http://"+l.Addr().String()+"/v1/console/download?"+url.Values{"operation": {name}, "object": {obj.GetName()}}.Encode(), "")
	b, err := io.ReadAll(res.Body)
	sum := sha256.Sum256(b)
	if err != nil || res.StatusCode != 200 || hex.EncodeToString(sum[:]) != obj.GetSha256() {
		t.Fatalf("download: %s, %d bytes, %v", res.Status, len(b), err)
	}
}

// slowBucket reads its objects 1 KiB at a time, 5 ms apart.
type slowBucket struct{ sink.Bucket }

func (b slowBucket) NewReader(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := b.Bucket.NewReader(ctx, name)
	if err != nil {
		return nil, err
	}
	return slowReader{r}, nil
}

type slowReader struct{ io.ReadCloser }

func (r slowReader) Read(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	return r.ReadCloser.Read(p[:min(len(p), 1024)])
}

// TestDownloadFromCloudStorage: where the server cannot sign URLs (here
// Cloud Storage without a service account), the console streams the object
// from the bucket; the destination's placeholders were filled by the
// export, and the download reads from the folder the object is in.
func TestDownloadFromCloudStorage(t *testing.T) {
	t.Parallel()
	gs := gcstest.Start(t, "acme-exports")
	emu := exporttest.Emulator(t, emulator.Sample(), emulator.Options{})
	st, err := store.Local(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context, dest string) (sink.Bucket, error) {
		return sink.Open(ctx, dest, sink.WithClientOptions(gs.ClientOptions()...))
	}
	m, err := operations.New(t.Context(), operations.Config{Store: st,
		Open: func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
			c, err := apigee.NewClient(ctx, apigee.WithBaseURL(req.GetApigeeUrl()), apigee.WithoutAuthentication())
			if err != nil {
				return nil, nil, err
			}
			b, err := open(ctx, req.GetDestination())
			return export.FromClient(c), b, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	op, err := m.Start(t.Context(), &operationspb.ExportRequest{
		Parent: "organizations/acme", Resource: "apps", Format: "csv", Destination: "gs://acme-exports/{org}/{resource}", ApigeeUrl: emu.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	if op, err = m.Wait(t.Context(), op.GetName(), 20*time.Second); err != nil || op.GetError() != nil {
		t.Fatalf("export: %v %v", op, err)
	}
	obj := objectsOf(t, op)[0]
	if obj.GetDownloadUrl() != "" || !strings.HasPrefix(obj.GetUri(), "gs://acme-exports/acme/apps/") {
		t.Fatalf("object %v: want one in gs://acme-exports/acme/apps/ without a signed URL", obj)
	}

	c, err := console.New(console.Options{Operations: m, Records: st, Open: open})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(m, server.Options{Auth: server.NoAuth(), Pages: c.Pages(), Routes: c.Routes()}).Handler())
	t.Cleanup(srv.Close)
	res := get(t, srv.URL+"/v1/console/download?"+url.Values{"operation": {op.GetName()}, "object": {obj.GetName()}}.Encode(), "")
	b, err := io.ReadAll(res.Body)
	sum := sha256.Sum256(b)
	if err != nil || res.StatusCode != 200 || hex.EncodeToString(sum[:]) != obj.GetSha256() {
		t.Fatalf("download: %s, %d bytes, %v", res.Status, len(b), err)
	}
}
