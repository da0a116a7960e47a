package sink

import (
	"bytes"
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// openLocalBucket opens a fresh folder destination as the bucket type.
func openLocalBucket(t *testing.T) (*localBucket, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	return b.(*localBucket), dir
}

func writeObject(t *testing.T, b Bucket, name string, data []byte) {
	t.Helper()
	w, err := b.NewWriter(context.Background(), name, Attrs{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func syncedNow(t *testing.T, b *localBucket, p string) bool {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return b.sums.synced(p, fi)
}

// TestLocalPublishSkipsOnlyItsOwnSyncedFiles: Publish leaves out the fsync
// of a source only when this bucket's writer fsynced that very file and it
// has not changed since; a file written by anyone else, or changed after
// its writer closed it, is synced before it is linked.
func TestLocalPublishSkipsOnlyItsOwnSyncedFiles(t *testing.T) {
	t.Parallel()
	b, dir := openLocalBucket(t)
	ctx := context.Background()

	writeObject(t, b, "staging/a", []byte("written and fsynced by the bucket"))
	a := filepath.Join(dir, "staging", "a")
	if !syncedNow(t, b, a) {
		t.Error("a file the bucket's writer closed is not known as synced")
	}
	if _, created, err := b.Publish(ctx, "staging/a", "final-a", Attrs{}); err != nil || !created {
		t.Fatalf("Publish(staging/a) = %v, %v", created, err)
	}
	if !syncedNow(t, b, filepath.Join(dir, "final-a")) {
		t.Error("the published link of a synced file is not known as synced")
	}

	// Changed in place after its writer closed it: no longer the file
	// that was synced.
	f, err := os.OpenFile(a, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(" and more"))
	f.Close()
	if syncedNow(t, b, a) {
		t.Error("a file changed after its writer closed it is still taken as synced")
	}

	// Written by someone else; reading its info does not make it synced.
	other := filepath.Join(dir, "staging", "other")
	if err := os.WriteFile(other, []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.fileInfo("staging/other", other); err != nil {
		t.Fatal(err)
	}
	if syncedNow(t, b, other) {
		t.Error("a file the bucket only read is taken as synced")
	}
	info, created, err := b.Publish(ctx, "staging/other", "final-other", Attrs{})
	if err != nil || !created || info.Size != int64(len("not ours")) {
		t.Fatalf("Publish(staging/other) = %+v, %v, %v", info, created, err)
	}
}

// TestLocalWriterWritesBehind: a writer asks for the writeback of every
// writeBehind bytes as it goes, and the file it completes holds exactly
// the bytes written, with their CRC32C.
func TestLocalWriterWritesBehind(t *testing.T) {
	t.Parallel()
	b, dir := openLocalBucket(t)
	w, err := b.NewWriter(context.Background(), "staging/big", Attrs{})
	if err != nil {
		t.Fatal(err)
	}
	lw := w.(*localWriter)
	var want bytes.Buffer
	chunk := make([]byte, 64<<10)
	for i := range 40 { // 2.5 MiB
		for j := range chunk {
			chunk[j] = byte(i + j)
		}
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want.Write(chunk)
	}
	if lw.queued != 2*writeBehind {
		t.Errorf("after %d bytes, writeback was started for %d, want %d", want.Len(), lw.queued, 2*writeBehind)
	}
	info, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "staging", "big"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the file holds %d bytes that differ from the %d written", len(got), want.Len())
	}
	if crc := crc32.Checksum(got, castagnoli); info.Size != int64(len(got)) || info.CRC32C != crc {
		t.Errorf("Close reported %d bytes, CRC32C %08x; the file has %d, %08x", info.Size, info.CRC32C, len(got), crc)
	}
}
