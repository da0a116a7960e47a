package sink_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"

	"pubexport/export/sink"
)

func TestOpenRejectsBadDestinations(t *testing.T) {
	// Were any of these to reach client creation, the missing credentials
	// would make it UNAUTHENTICATED: INVALID_ARGUMENT proves validation
	// comes first.
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	for _, c := range []struct{ dest, mention string }{
		{"", "required"},
		{"s3://bucket/x", "unsupported scheme"},
		{"https://storage.googleapis.com/bucket/x", "unsupported scheme"},
		{"gcs://bucket/x", "unsupported scheme"},
		{"gs:bucket/x", "gs://BUCKET"},
		{"gs:/bucket/x", "gs://BUCKET"},
		{"gs://", "no bucket"},
		{"gs:///x", "no bucket"},
		{"gs://ab", "shorter than 3"},
		{"gs://My-Bucket", "lowercase"},
		{"gs://bucket!/x", "lowercase"},
		{"gs://-bucket", "start and end"},
		{"gs://bucket_", "start and end"},
		{"gs://" + strings.Repeat("b", 64), "longer than 63"},
		{"gs://a" + strings.Repeat(".bb", 80), "longer than 222"},
		{"gs://a." + strings.Repeat("c", 64) + ".com", "component longer than 63"},
		{"gs://a..b", "empty dot-separated"},
		{"gs://192.168.1.20", "IP address"},
		{"gs://goog-exports", "goog"},
		{"gs://my-google-exports", "google"},
		{"gs://bucket//x", "single slash"},
		{"gs://bucket/a//b", "empty segment"},
		{"gs://bucket/a/../b", `".."`},
		{"gs://bucket/./a", `"."`},
		{"gs://bucket/a\nb", "control characters"},
		{"gs://bucket/a\x7fb", "control characters"},
		{"gs://bucket/\xffx", "UTF-8"},
		{"gs://bucket/.well-known/acme-challenge/x", "acme-challenge"},
		{"gs://bucket/a?generation=1", "?"},
		{"gs://bucket/part-*", "*"},
		{"gs://bucket/" + strings.Repeat("p", sink.MaxPrefixBytes), "shorter prefix"},
		{"file://server/share/dir", "host"},
		{"file:relative/dir", "file URL"},
		{"file:///dir?x=1", "query"},
		{"file://", "absolute folder"},
	} {
		b, err := sink.Open(context.Background(), c.dest)
		if err == nil {
			b.Close()
			t.Errorf("Open(%q) succeeded", c.dest)
			continue
		}
		t.Run("", func(t *testing.T) { wantCode(t, err, codes.InvalidArgument, c.mention); wantDestination(t, err) })
	}
}

func TestOpenAcceptsGoodDestinations(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	noAuth := sink.WithClientOptions(option.WithoutAuthentication())
	for _, c := range []struct{ dest, uri string }{
		{"gs://my-bucket", "gs://my-bucket/x.json"},
		{"gs://my-bucket/", "gs://my-bucket/x.json"},
		{"gs://my-bucket/exports/daily", "gs://my-bucket/exports/daily/x.json"},
		{"gs://my-bucket/exports/daily/", "gs://my-bucket/exports/daily/x.json"},
		{"GS://my-bucket/a", "gs://my-bucket/a/x.json"},
		{"gs://exports.example.com/" + strings.Repeat("p", sink.MaxPrefixBytes-1), "gs://exports.example.com/" + strings.Repeat("p", sink.MaxPrefixBytes-1) + "/x.json"},
		{"gs://my_bucket-1/é ü", "gs://my_bucket-1/é ü/x.json"},
		{"gs://a" + strings.Repeat(".bb", 73), "gs://a" + strings.Repeat(".bb", 73) + "/x.json"},
		{"file:///srv/exports", "file:///srv/exports/x.json"},
		{"file://localhost/srv/exports/", "file:///srv/exports/x.json"},
		{"file:///srv/with%20space", "file:///srv/with%20space/x.json"},
		{"/srv/exports/../other", "file:///srv/other/x.json"},
		{"out/dir", "file://" + filepath.ToSlash(filepath.Join(cwd, "out/dir")) + "/x.json"},
	} {
		b, err := sink.Open(context.Background(), c.dest, noAuth)
		if err != nil {
			t.Errorf("Open(%q): %v", c.dest, err)
			continue
		}
		if got := b.URI("x.json"); got != c.uri {
			t.Errorf("Open(%q).URI = %q, want %q", c.dest, got, c.uri)
		}
		b.Close()
	}
}

func TestOpenWithoutCredentials(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	b, err := sink.Open(context.Background(), "gs://my-bucket/x")
	if err == nil {
		b.Close()
		t.Fatal("Open without credentials succeeded")
	}
	wantCode(t, err, codes.Unauthenticated, "gcloud auth application-default login")
}
