package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/formats/field"
	"pubexport/operations/store"
)

// TestOpenSharesSinkRules: store URIs follow the destinations' rules
// (sink.ParseURI), and a refusal is about the store, before any I/O.
func TestOpenSharesSinkRules(t *testing.T) {
	for _, uri := range []string{"gs:///ops", "gs://Bad_Bucket!/ops", "gs://goog-ops/x", "gs://b/a//b", "s3://b/ops", "file://host/dir"} {
		st, _, err := store.Open(context.Background(), uri)
		var fe *field.Error
		if st != nil || status.Code(err) != codes.InvalidArgument || !errors.As(err, &fe) || fe.Field != field.Store || fe.Value != uri {
			t.Errorf("Open(%q) = %v; want INVALID_ARGUMENT about the store", uri, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "ops")
	for _, uri := range []string{dir, "file://" + filepath.ToSlash(dir)} {
		st, closeSt, err := store.Open(context.Background(), uri)
		if err != nil {
			t.Fatalf("Open(%q): %v", uri, err)
		}
		if _, err := st.List(context.Background(), ""); err != nil {
			t.Errorf("List on %q: %v", uri, err)
		}
		if err := closeSt(); err != nil {
			t.Error(err)
		}
	}
}
