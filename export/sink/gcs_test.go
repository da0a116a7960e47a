package sink_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
)

var allPermissions = []string{"storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list"}

func TestGCSCheckMissingBucket(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://no-such-bucket/x")
	// The emulator does not serve testIamPermissions: the probe finds out.
	wantCode(t, b.Check(context.Background()), codes.NotFound, "gs://no-such-bucket", "gcloud storage buckets create")
	// Cloud Storage answers testIamPermissions with 404 too.
	srv.Use(srv.AnswerTestPermissions(allPermissions...))
	wantCode(t, b.Check(context.Background()), codes.NotFound, "gs://no-such-bucket", "gcloud storage buckets create")
}

func TestGCSCheckAsksForPermissions(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://"+testBucket+"/x")
	rec := &gcstest.Recorder{}
	srv.Use(rec.Middleware, srv.AnswerTestPermissions(allPermissions...))
	if err := b.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := rec.Requests(); len(got) != 1 || !strings.HasSuffix(got[0], "/iam/testPermissions") {
		t.Errorf("Check sent %q, want only testIamPermissions", got)
	}

	srv.Use(srv.AnswerTestPermissions("storage.objects.create", "storage.objects.get"))
	wantCode(t, b.Check(context.Background()), codes.PermissionDenied,
		"storage.objects.delete, storage.objects.list", "roles/storage.objectUser", "gs://"+testBucket)
}

func TestGCSCheckFallsBackToProbe(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://"+testBucket+"/x")
	rec := &gcstest.Recorder{}
	srv.Use(rec.Middleware)
	if err := b.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	reqs := strings.Join(rec.Requests(), "\n")
	for _, want := range []string{"/iam/testPermissions", "POST /upload/storage/v1/b/" + testBucket + "/o", "DELETE /storage/v1/b/" + testBucket + "/o/x/" + sink.ProbePrefix} {
		if !strings.Contains(reqs, want) {
			t.Errorf("Check requests do not include %q:\n%s", want, reqs)
		}
	}
	if got := srv.Objects(t, testBucket); len(got) != 0 {
		t.Errorf("the probe stayed: %q", got)
	}
}

func TestGCSCheckDenied(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://"+testBucket+"/x")
	ctx := context.Background()

	srv.Use(gcstest.Deny(http.StatusForbidden, gcstest.ObjectInserts).Middleware)
	wantCode(t, b.Check(ctx), codes.PermissionDenied, "storage.objects.create", "roles/storage.objectUser")

	srv.Use(gcstest.Deny(http.StatusForbidden, gcstest.ObjectDeletes).Middleware)
	wantCode(t, b.Check(ctx), codes.PermissionDenied, "storage.objects.delete", "roles/storage.objectUser")

	srv.Use(gcstest.Deny(http.StatusForbidden, gcstest.TestPermissionsRequests).Middleware)
	wantCode(t, b.Check(ctx), codes.PermissionDenied, "roles/storage.objectUser")

	srv.Use(gcstest.Deny(http.StatusUnauthorized, gcstest.All).Middleware)
	wantCode(t, b.Check(ctx), codes.Unauthenticated, "gcloud auth application-default login")

	// Errors outside Check map the same way.
	srv.Use(gcstest.Deny(http.StatusForbidden, gcstest.ObjectInserts).Middleware)
	w, err := b.NewWriter(ctx, "a", sink.Attrs{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	_, err = w.Close()
	wantCode(t, err, codes.PermissionDenied, "roles/storage.objectUser")
}

// TestGCSSurvivesFaults fails every third request before the emulator sees
// it. The storage client alone retries neither compose, copy, delete nor
// upload session starts without preconditions; the sink must.
func TestGCSSurvivesFaults(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://"+testBucket+"/exports")
	faults := gcstest.FailEvery(3, http.StatusServiceUnavailable)
	srv.Use(faults.Middleware)
	ctx := context.Background()

	if err := b.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	var parts []string
	var want []byte
	for i := range 35 {
		size := 500
		if i == 0 {
			size = 700 << 10 // a multi-chunk upload
		}
		data := randomBytes(uint64(i), size)
		name := "staging/p" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		checkInfo(t, write(t, b, name, data), name, data)
		parts = append(parts, name)
		want = append(want, data...)
	}
	if _, err := b.Compose(ctx, "staging/object", parts, sink.Attrs{}); err != nil {
		t.Fatalf("Compose: %v", err)
	}
	info, created, err := b.Publish(ctx, "staging/object", "final.csv", sink.Attrs{ContentType: "text/csv"})
	if err != nil || !created {
		t.Fatalf("Publish: created=%v err=%v", created, err)
	}
	checkInfo(t, info, "final.csv", want)
	if _, created, err := b.Publish(ctx, "staging/object", "final.csv", sink.Attrs{}); err != nil || created {
		t.Fatalf("Publish again: created=%v err=%v", created, err)
	}
	for _, p := range append(parts, "staging/object") {
		if err := b.Delete(ctx, p); err != nil {
			t.Fatalf("Delete(%s): %v", p, err)
		}
	}
	if got := read(t, b, "final.csv"); !bytes.Equal(got, want) {
		t.Errorf("final object has %d bytes, want %d (or they differ)", len(got), len(want))
	}
	if got := names(t, b, ""); !slices.Equal(got, []string{"final.csv"}) {
		t.Errorf("List = %q, want only final.csv", got)
	}
	if faults.Injected() < 20 {
		t.Errorf("only %d faults injected; the test proves little", faults.Injected())
	}
}

func TestGCSGivesUpAfterRetries(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://"+testBucket+"/exports")
	faults := gcstest.Deny(http.StatusServiceUnavailable, gcstest.ObjectDeletes)
	srv.Use(faults.Middleware)
	wantCode(t, b.Delete(context.Background(), "x"), codes.Unavailable, "gs://"+testBucket+"/exports/x")
	if n := faults.Injected(); n != 8 {
		t.Errorf("Delete was tried %d times, want 8", n)
	}
}

// TestGCSDetectsCorruptUpload corrupts a chunk on its way: the emulator
// does not check multi-chunk uploads, the sink compares CRC32C itself.
func TestGCSDetectsCorruptUpload(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://"+testBucket+"/exports")
	corrupted := false
	srv.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("upload_id") != "" && !corrupted { // a chunk of a resumable upload
				body, _ := io.ReadAll(r.Body)
				if len(body) > 0 {
					corrupted = true
					body[len(body)/2] ^= 0xff
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			next.ServeHTTP(w, r)
		})
	})
	w, err := b.NewWriter(context.Background(), "staging/p", sink.Attrs{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(1, 600<<10))
	_, err = w.Close()
	wantCode(t, err, codes.DataLoss, "CRC32C")
	if !corrupted {
		t.Error("nothing was corrupted")
	}
}

func TestGCSPublishSetsAttrs(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://"+testBucket+"/exports/")
	ctx := context.Background()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(strings.Repeat(`{"a":1}`+"\n", 1000)))
	zw.Close()
	gz := buf.Bytes()

	write(t, b, "staging/x", gz)
	attrs := sink.Attrs{ContentType: "application/x-ndjson", ContentEncoding: "gzip", Metadata: map[string]string{"pubexport-records": "1000"}}
	if _, _, err := b.Publish(ctx, "staging/x", "final.ndjson.gz", attrs); err != nil {
		t.Fatal(err)
	}
	got, err := srv.Client.Bucket(testBucket).Object("exports/final.ndjson.gz").Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ContentType != attrs.ContentType || got.ContentEncoding != "gzip" || got.Metadata["pubexport-records"] != "1000" {
		t.Errorf("published attrs: type %q encoding %q metadata %v", got.ContentType, got.ContentEncoding, got.Metadata)
	}
	// Readers get the stored bytes, not a decompressed rendition.
	if r := read(t, b, "final.ndjson.gz"); !bytes.Equal(r, gz) {
		t.Errorf("read %d bytes, stored %d", len(r), len(gz))
	}
	if u := b.URI("final.ndjson.gz"); u != "gs://"+testBucket+"/exports/final.ndjson.gz" {
		t.Errorf("URI = %q", u)
	}
}

func TestGCSEmulatorHostVariable(t *testing.T) {
	srv := gcstest.Start(t, testBucket)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host)
	b, err := sink.Open(context.Background(), "gs://"+testBucket+"/env", sink.WithChunkSize(chunk))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data := randomBytes(5, 300<<10)
	checkInfo(t, write(t, b, "x", data), "x", data)
	if err := b.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Objects(t, testBucket); !slices.Equal(got, []string{"env/x"}) {
		t.Errorf("emulator holds %q", got)
	}
}

func TestGCSWithClientLeavesClientOpen(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b, err := sink.Open(context.Background(), "gs://"+testBucket, sink.WithClient(srv.Client))
	if err != nil {
		t.Fatal(err)
	}
	write(t, b, "x", []byte("hello"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.Bucket(testBucket).Object("x").Attrs(context.Background()); err != nil {
		t.Fatalf("the client passed in no longer works: %v", err)
	}
}
