package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/types/known/anypb"

	"pubexport/operations/operationspb"
)

// TestLocalSettledRecordIsNotReadAgain: once a record file is a second old
// when read, later reads of the same file (same inode, size and time) come
// from the cache without reading it; a replaced record (a new file, as
// every write makes) is read again at once, settled or not.
func TestLocalSettledRecordIsNotReadAgain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Local(dir)
	if err != nil {
		t.Fatal(err)
	}
	name := "organizations/acme/operations/0190c1f4-7a1b-7c3d-8e4f-000000000009"
	rec := func(attempts int32) *operationspb.OperationRecord {
		op, err := anypb.New(&longrunningpb.Operation{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return &operationspb.OperationRecord{Operation: op, Request: &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps"}, Attempts: attempts}
	}
	gen, err := st.Create(ctx, rec(1))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.FromSlash(recordPath(name)))
	old := time.Now().Add(-2 * settle)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if got, _, err := st.Get(ctx, name); err != nil || got.GetAttempts() != 1 {
		t.Fatalf("Get: %v, %v", got, err)
	}
	// The same file, its bytes changed in place (records never are) with its
	// size and time kept: the cache answers without reading it.
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, len(b))
	for i := range garbage {
		garbage[i] = '#'
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(garbage); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	got, _, err := st.Get(ctx, name)
	if err != nil || got.GetAttempts() != 1 {
		t.Fatalf("Get of the settled file: %v, %v; want the cached record without a read", got, err)
	}
	got.Attempts = 99 // a copy: the cache's own stays as it was
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	// A write replaces the file: the next Get reads the new one, fresh as
	// it is (not settled).
	if _, err := st.Update(ctx, rec(2), gen); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got, _, err := st.Get(ctx, name); err != nil || got.GetAttempts() != 2 {
			t.Fatalf("Get after Update: %v, %v; want attempts 2", got, err)
		}
	}
	// A fresh file is read every time: bytes changed in place (same size,
	// same time) show at once.
	b, _ = os.ReadFile(p)
	fi, _ := os.Stat(p)
	if err := os.WriteFile(p, []byte("{}"+string(b[2:])), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	if _, _, err := st.Get(ctx, name); err == nil {
		t.Error("Get of a fresh file whose bytes changed answered from the cache")
	}
	if err := st.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Get(ctx, name); err == nil {
		t.Error("Get after Delete found the record")
	}
}
