package sink_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
	"pubexport/formats/field"
)

const testBucket = "pubexport-test"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunk is the smallest resumable chunk the client accepts: 600 KiB of data
// make a three-chunk upload.
const chunk = 256 << 10

// fastRetry keeps retried tests quick; the backoff is still real.
var fastRetry = sink.WithRetry(8, time.Millisecond, 20*time.Millisecond)

type backend struct {
	name string
	open func(t *testing.T) sink.Bucket
}

func backends() []backend {
	return []backend{
		{"gcs", func(t *testing.T) sink.Bucket {
			srv := gcstest.Start(t, testBucket)
			return openGCS(t, srv, "gs://"+testBucket+"/exports/run")
		}},
		{"local", func(t *testing.T) sink.Bucket {
			return openLocal(t, t.TempDir()+"/out")
		}},
	}
}

// forEach runs a test against every backend.
func forEach(t *testing.T, fn func(t *testing.T, b sink.Bucket)) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			fn(t, be.open(t))
		})
	}
}

func openGCS(t *testing.T, srv *gcstest.Server, dest string, opts ...sink.Option) sink.Bucket {
	t.Helper()
	opts = append([]sink.Option{sink.WithClientOptions(srv.ClientOptions()...), sink.WithChunkSize(chunk), fastRetry}, opts...)
	b, err := sink.Open(context.Background(), dest, opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", dest, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func openLocal(t *testing.T, dir string) sink.Bucket {
	t.Helper()
	b, err := sink.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// write stores data under name, in pieces of odd sizes.
func write(t *testing.T, b sink.Bucket, name string, data []byte) sink.ObjectInfo {
	t.Helper()
	w, err := b.NewWriter(context.Background(), name, sink.Attrs{ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatalf("NewWriter(%s): %v", name, err)
	}
	for p := data; len(p) > 0; {
		n := min(len(p), 100_003)
		if _, err := w.Write(p[:n]); err != nil {
			w.Abort()
			t.Fatalf("Write(%s): %v", name, err)
		}
		p = p[n:]
	}
	info, err := w.Close()
	if err != nil {
		t.Fatalf("Close(%s): %v", name, err)
	}
	return info
}

func read(t *testing.T, b sink.Bucket, name string) []byte {
	t.Helper()
	r, err := b.NewReader(context.Background(), name)
	if err != nil {
		t.Fatalf("NewReader(%s): %v", name, err)
	}
	defer r.Close()
	p, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return p
}

func names(t *testing.T, b sink.Bucket, prefix string) []string {
	t.Helper()
	infos, err := b.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	var out []string
	for _, i := range infos {
		out = append(out, i.Name)
	}
	return out
}

// wantCode: see exporttest.Code.
var wantCode = exporttest.Code

// wantDestination checks that err is about the destination, as a
// *field.Error that the command line, the job and the API each name their
// own way (--to, PUBEXPORT_TO, destination).
func wantDestination(t *testing.T, err error) {
	t.Helper()
	var fe *field.Error
	if !errors.As(err, &fe) || fe.Field != field.Destination {
		t.Errorf("error %v is not a *field.Error about the destination", err)
	}
}

func checkInfo(t *testing.T, info sink.ObjectInfo, name string, data []byte) {
	t.Helper()
	if info.Name != name || info.Size != int64(len(data)) || info.CRC32C != crc32.Checksum(data, castagnoli) {
		t.Errorf("info %+v, want name %s size %d crc32c %08x", info, name, len(data), crc32.Checksum(data, castagnoli))
	}
	if info.Created.IsZero() {
		t.Errorf("info %+v has no creation time", info)
	}
}

func TestWriteCloseRead(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		for i, size := range []int{0, 1000, 600 << 10} { // empty, one request, three chunks
			data := randomBytes(uint64(i), size)
			name := "staging/part-" + string(rune('a'+i))
			info := write(t, b, name, data)
			checkInfo(t, info, name, data)
			if got := read(t, b, name); !bytes.Equal(got, data) {
				t.Errorf("%s: read %d bytes, not the %d written", name, len(got), len(data))
			}
		}
		if got, want := names(t, b, "staging/"), []string{"staging/part-a", "staging/part-b", "staging/part-c"}; !slices.Equal(got, want) {
			t.Errorf("List = %q, want %q", got, want)
		}
	})
}

func TestWriterOverwritesItsName(t *testing.T) {
	// A resumed run rewrites staging parts a crashed attempt left.
	forEach(t, func(t *testing.T, b sink.Bucket) {
		write(t, b, "s/p", []byte("first attempt, longer"))
		info := write(t, b, "s/p", []byte("second"))
		checkInfo(t, info, "s/p", []byte("second"))
		if got := read(t, b, "s/p"); string(got) != "second" {
			t.Errorf("read %q", got)
		}
	})
}

func TestPublish(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		ctx := context.Background()
		data := randomBytes(7, 300<<10)
		write(t, b, "staging/a", data)
		attrs := sink.Attrs{ContentType: "application/x-ndjson", Metadata: map[string]string{"k": "v"}}
		info, created, err := b.Publish(ctx, "staging/a", "final.ndjson", attrs)
		if err != nil || !created {
			t.Fatalf("Publish: created=%v err=%v", created, err)
		}
		checkInfo(t, info, "final.ndjson", data)

		// Again, from another staging object with the same bytes: nothing to do.
		write(t, b, "staging/b", data)
		info2, created, err := b.Publish(ctx, "staging/b", "final.ndjson", attrs)
		if err != nil || created {
			t.Fatalf("second Publish: created=%v err=%v, want false, nil", created, err)
		}
		checkInfo(t, info2, "final.ndjson", data)

		// Different bytes never replace a published object; the info tells.
		write(t, b, "staging/c", []byte("other"))
		info3, created, err := b.Publish(ctx, "staging/c", "final.ndjson", attrs)
		if err != nil || created {
			t.Fatalf("third Publish: created=%v err=%v, want false, nil", created, err)
		}
		checkInfo(t, info3, "final.ndjson", data)
		if got := read(t, b, "final.ndjson"); !bytes.Equal(got, data) {
			t.Errorf("published object changed")
		}

		// The published object does not depend on its source.
		for _, s := range []string{"staging/a", "staging/b", "staging/c"} {
			if err := b.Delete(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if got := read(t, b, "final.ndjson"); !bytes.Equal(got, data) {
			t.Errorf("published object changed when its source was deleted")
		}
		_, _, err = b.Publish(ctx, "staging/missing", "other.ndjson", attrs)
		wantCode(t, err, codes.NotFound, "staging/missing")
	})
}

func TestNothingVisibleBeforeCloseAndPublish(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		ctx := context.Background()
		data := randomBytes(3, 700<<10)
		w, err := b.NewWriter(ctx, "staging/x", sink.Attrs{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data[:600<<10]); err != nil { // more than two chunks sent
			t.Fatal(err)
		}
		if got := names(t, b, ""); len(got) != 0 {
			t.Errorf("while writing, List = %q, want nothing", got)
		}
		_, err = b.NewReader(ctx, "staging/x")
		wantCode(t, err, codes.NotFound)
		if _, err := w.Write(data[600<<10:]); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = b.NewReader(ctx, "final")
		wantCode(t, err, codes.NotFound)
		if _, _, err := b.Publish(ctx, "staging/x", "final", sink.Attrs{}); err != nil {
			t.Fatal(err)
		}
		if got := read(t, b, "final"); !bytes.Equal(got, data) {
			t.Errorf("published %d bytes, want %d", len(got), len(data))
		}
	})
}

func TestAbortLeavesNothing(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		ctx := context.Background()
		for _, size := range []int{10, 700 << 10} {
			w, err := b.NewWriter(ctx, "staging/aborted", sink.Attrs{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(randomBytes(1, size)); err != nil {
				t.Fatal(err)
			}
			w.Abort()
			w.Abort() // harmless
			if _, err := w.Close(); err == nil {
				t.Error("Close after Abort succeeded")
			}
			if got := names(t, b, ""); len(got) != 0 {
				t.Errorf("after Abort of %d bytes, List = %q", size, got)
			}
			_, err = b.NewReader(ctx, "staging/aborted")
			wantCode(t, err, codes.NotFound)
		}
	})
}

func TestCancelStopsWriter(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		ctx, cancel := context.WithCancel(context.Background())
		w, err := b.NewWriter(ctx, "staging/cancelled", sink.Attrs{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(randomBytes(1, 300<<10)); err != nil {
			t.Fatal(err)
		}
		cancel()
		_, err = w.Write([]byte("more"))
		wantCode(t, err, codes.Canceled)
		_, err = w.Close()
		if err == nil {
			t.Fatal("Close after cancel succeeded")
		}
		w.Abort()
		if got := names(t, b, ""); len(got) != 0 {
			t.Errorf("after cancel, List = %q", got)
		}
	})
}

func TestCompose(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		ctx := context.Background()
		var parts []string
		var want []byte
		for i := range 40 {
			data := randomBytes(uint64(i), 1000+i*37)
			name := "staging/run/part-" + string(rune('A'+i/26)) + string(rune('a'+i%26))
			write(t, b, name, data)
			parts = append(parts, name)
			want = append(want, data...)
		}
		// Not in name order: the order given is the order kept.
		parts[3], parts[30] = parts[30], parts[3]
		want = want[:0]
		for i := range parts {
			want = append(want, read(t, b, parts[i])...)
		}
		info, err := b.Compose(ctx, "staging/run/object", parts, sink.Attrs{ContentType: "text/csv"})
		if err != nil {
			t.Fatal(err)
		}
		checkInfo(t, info, "staging/run/object", want)
		if got := read(t, b, "staging/run/object"); !bytes.Equal(got, want) {
			t.Errorf("composed %d bytes, want %d (or order differs)", len(got), len(want))
		}
		// Only the parts and the result: intermediates are gone.
		if got := names(t, b, "staging/run/"); len(got) != 41 || !slices.Contains(got, "staging/run/object") {
			t.Errorf("after compose, List = %q", got)
		}
		_, err = b.Compose(ctx, "x", nil, sink.Attrs{})
		wantCode(t, err, codes.InvalidArgument)
	})
}

func TestListAndDelete(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		ctx := context.Background()
		for _, n := range []string{"ExportManifest_1.json", "ExportManifest_2.json", ".pubexport-staging/id/part-0000", ".pubexport-staging/id/part-0001", ".pubexport-staging/other/part-0000", "ExportFinal_abc.csv"} {
			write(t, b, n, []byte(n))
		}
		infos, err := b.List(ctx, "ExportManifest_")
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 2 {
			t.Fatalf("List(ExportManifest_) = %+v", infos)
		}
		for _, i := range infos {
			if i.Size != int64(len(i.Name)) || i.Created.IsZero() {
				t.Errorf("List info %+v", i)
			}
		}
		if got, want := names(t, b, ".pubexport-staging/id/"), []string{".pubexport-staging/id/part-0000", ".pubexport-staging/id/part-0001"}; !slices.Equal(got, want) {
			t.Errorf("List(staging/id) = %q, want %q", got, want)
		}
		if got := names(t, b, ""); len(got) != 6 {
			t.Errorf("List() = %q", got)
		}
		if got := names(t, b, "nothing-here/"); len(got) != 0 {
			t.Errorf("List(nothing-here/) = %q", got)
		}
		for _, n := range []string{".pubexport-staging/id/part-0000", ".pubexport-staging/id/part-0001", ".pubexport-staging/id/part-0001", "never-existed"} {
			if err := b.Delete(ctx, n); err != nil {
				t.Errorf("Delete(%s): %v", n, err)
			}
		}
		if got, want := names(t, b, ".pubexport-staging/"), []string{".pubexport-staging/other/part-0000"}; !slices.Equal(got, want) {
			t.Errorf("after Delete, List = %q, want %q", got, want)
		}
	})
}

func TestCheckWritable(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		if err := b.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if got := names(t, b, ""); len(got) != 0 {
			t.Errorf("Check left %q", got)
		}
	})
}

func TestBadObjectNames(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		ctx := context.Background()
		for _, n := range []string{"", "/abs", "a//b", "../escape", "a/../../b", "./a", "dir/", "line\nbreak", strings.Repeat("n", 1100)} {
			_, err := b.NewWriter(ctx, n, sink.Attrs{})
			wantCode(t, err, codes.InvalidArgument)
			wantCode(t, b.Delete(ctx, n), codes.InvalidArgument)
		}
		_, err := b.List(ctx, "../")
		wantCode(t, err, codes.InvalidArgument)
	})
}

func TestErrorsKeepTheirCause(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.List(ctx, "")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("List with a cancelled context: %v, want one that wraps context.Canceled", err)
		}
	})
}

// TestListPrefixes: a prefix is a string prefix of names, as on Cloud
// Storage, wherever it ends: inside a folder name, at a "/", or at the
// top; folders that cannot match are skipped, ones that can are entered.
func TestListPrefixes(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		all := []string{
			".pubexport-staging/id/part-0", ".pubexport/operations/op-1", "Export/y",
			"ExportManifest.json", "ExportManifest_1.json", "ExportManifest_dir/x", "ExportManifest_dir/y/z",
			"a/b/c/d/e", "staging/i/x", "staging/id/sub/y", "staging/idx/z", "staging/other/w",
		}
		for _, n := range all {
			write(t, b, n, []byte(n))
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"", all},
			{"ExportManifest_", []string{"ExportManifest_1.json", "ExportManifest_dir/x", "ExportManifest_dir/y/z"}},
			{"ExportManifest_dir/y", []string{"ExportManifest_dir/y/z"}},
			{"Export/", []string{"Export/y"}},
			{"staging/i", []string{"staging/i/x", "staging/id/sub/y", "staging/idx/z"}},
			{"staging/id", []string{"staging/id/sub/y", "staging/idx/z"}},
			{"staging/id/", []string{"staging/id/sub/y"}},
			{"a/b/", []string{"a/b/c/d/e"}},
			{"a/b/c/d/e", []string{"a/b/c/d/e"}},
			{"a/c", nil},
			{"ExportManifest_1.json/x", nil}, // a file where the prefix has a folder
		} {
			if got := names(t, b, c.prefix); !slices.Equal(got, c.want) {
				t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
			}
		}
	})
}

// TestComposeReportsCRC32C: the info Compose returns describes the bytes
// stored, with and without a compose tree, including empty sources: the
// export compares it with its own digest before publishing.
func TestComposeReportsCRC32C(t *testing.T) {
	forEach(t, func(t *testing.T, b sink.Bucket) {
		ctx := context.Background()
		var parts []string
		for i := range 34 {
			size := 100 + i
			if i%10 == 0 {
				size = 0
			}
			name := fmt.Sprintf("staging/p-%02d", i)
			write(t, b, name, randomBytes(uint64(100+i), size))
			parts = append(parts, name)
		}
		for _, n := range []int{1, 3, 34} {
			dst := fmt.Sprintf("staging/composed-%d", n)
			info, err := b.Compose(ctx, dst, parts[:n], sink.Attrs{})
			if err != nil {
				t.Fatalf("Compose of %d: %v", n, err)
			}
			stored := read(t, b, dst)
			checkInfo(t, info, dst, stored)
			published, _, err := b.Publish(ctx, dst, fmt.Sprintf("final-%d", n), sink.Attrs{})
			if err != nil {
				t.Fatal(err)
			}
			if published.CRC32C != info.CRC32C || published.Size != info.Size {
				t.Errorf("Compose of %d reported %d bytes CRC32C %08x; Publish of it %d bytes CRC32C %08x", n, info.Size, info.CRC32C, published.Size, published.CRC32C)
			}
		}
	})
}
