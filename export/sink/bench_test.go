package sink_test

import (
	"context"
	"fmt"
	"testing"

	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
)

// benchWrite writes, closes and publishes objects of size bytes in 1 MiB
// writes: the path every export object takes.
func benchWrite(b *testing.B, bk sink.Bucket, size int) {
	ctx := context.Background()
	buf := randomBytes(1, 1<<20)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("staging/%d", i)
		w, err := bk.NewWriter(ctx, name, sink.Attrs{})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < size; n += len(buf) {
			if _, err := w.Write(buf[:min(len(buf), size-n)]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
		if _, _, err := bk.Publish(ctx, name, fmt.Sprintf("final-%d", i), sink.Attrs{}); err != nil {
			b.Fatal(err)
		}
		bk.Delete(ctx, name)
		bk.Delete(ctx, fmt.Sprintf("final-%d", i))
	}
}

func BenchmarkLocalWritePublish64MiB(b *testing.B) {
	bk, err := sink.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	benchWrite(b, bk, 64<<20)
}

// The emulator is slow (it re-hashes the whole object on every chunk); this
// measures the sink's overhead on top of it, not Cloud Storage.
func BenchmarkGCSEmulatorWritePublish8MiB(b *testing.B) {
	srv := gcstest.Start(b, testBucket)
	bk, err := sink.Open(context.Background(), "gs://"+testBucket+"/bench", sink.WithClient(srv.Client), sink.WithChunkSize(2<<20))
	if err != nil {
		b.Fatal(err)
	}
	benchWrite(b, bk, 8<<20)
}

// BenchmarkLocalListManifests lists the manifests at the top of a folder
// that also holds 5000 staging files and 1000 operation records, as
// export.ReadManifests does.
func BenchmarkLocalListManifests(b *testing.B) {
	dir := b.TempDir()
	bk, err := sink.Open(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	put := func(name string) {
		w, err := bk.NewWriter(context.Background(), name, sink.Attrs{})
		if err != nil {
			b.Fatal(err)
		}
		w.Write([]byte(name))
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 3 {
		put(fmt.Sprintf("ExportManifest_%d.json", i))
	}
	for i := range 5000 {
		put(fmt.Sprintf(".pubexport-staging/run-%02d/part-%04d", i%50, i))
	}
	for i := range 1000 {
		put(fmt.Sprintf(".pubexport/operations/op-%04d", i))
	}
	b.ResetTimer()
	for range b.N {
		infos, err := bk.List(context.Background(), "ExportManifest_")
		if err != nil || len(infos) != 3 {
			b.Fatalf("List: %d objects, %v", len(infos), err)
		}
	}
}
