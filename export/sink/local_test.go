package sink_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"pubexport/export/sink"
)

func TestLocalOpenRefusesFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sink.Open(context.Background(), file)
	wantCode(t, err, codes.InvalidArgument, "is a file")
	wantDestination(t, err)
	_, err = sink.Open(context.Background(), "file://"+file+"/sub")
	wantCode(t, err, codes.InvalidArgument, "parent")
	wantDestination(t, err)
}

func TestLocalCheckCreatesTheFolder(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	b := openLocal(t, dir)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created %s (stat: %v); only Check and writes should", dir, err)
	}
	if got := names(t, b, ""); len(got) != 0 {
		t.Errorf("List of a missing folder = %q", got)
	}
	if err := b.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("after Check, %s holds %v (err %v), want an empty folder", dir, entries, err)
	}
}

// TestLocalCheckReadOnly needs a folder the test user cannot write to.
// Root may write anywhere, so as root the test runs itself again as user
// nobody.
func TestLocalCheckReadOnly(t *testing.T) {
	if dir := os.Getenv("SINK_TEST_READONLY_DIR"); dir != "" {
		b, err := sink.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		err = b.Check(context.Background())
		wantCode(t, err, codes.PermissionDenied, dir)
		wantDestination(t, err)
		_, err = b.NewWriter(context.Background(), "x", sink.Attrs{})
		wantCode(t, err, codes.PermissionDenied)
		return
	}
	t.Parallel()
	// Not t.TempDir: its parent is private to the test user.
	base, err := os.MkdirTemp("", "sink-readonly-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "readonly")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		b := openLocal(t, dir)
		err := b.Check(context.Background())
		wantCode(t, err, codes.PermissionDenied, dir)
		wantDestination(t, err)
		return
	}
	runAsNobody(t, base, "TestLocalCheckReadOnly", "SINK_TEST_READONLY_DIR="+dir)
}

// runAsNobody runs one test of this binary again as user nobody, with env
// added, in base (a folder nobody may enter), and fails t unless it passes:
// root may read and write anywhere, so tests of permissions run as root
// need another user.
func runAsNobody(t *testing.T, base, test string, env ...string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary sits in a folder only root may enter: copy it.
	bin := filepath.Join(base, "sink.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), "GOCOVERDIR="), env...)
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(err.Error(), "operation not permitted") {
		t.Skipf("cannot run as user nobody to test permissions: %v", err)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("as user nobody: %v\n%s", err, out)
	}
}

// TestLocalFilesFollowUmask: files are created as os.Create would, so the
// umask decides who may read an export (which may hold consumer secrets).
// The umask belongs to the whole process, so each case runs in a child
// process running only this test.
func TestLocalFilesFollowUmask(t *testing.T) {
	if m := os.Getenv("SINK_TEST_UMASK"); m != "" {
		mask, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Umask(syscall.Umask(int(mask)))
		want := fs.FileMode(0o666 &^ mask)
		dir := t.TempDir()
		b := openLocal(t, dir)
		ctx := context.Background()
		write(t, b, "staging/a", []byte("a"))
		write(t, b, "staging/b", []byte("b"))
		if _, err := b.Compose(ctx, "staging/ab", []string{"staging/a", "staging/b"}, sink.Attrs{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Publish(ctx, "staging/ab", "final", sink.Attrs{}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"staging/a", "staging/ab", "final"} {
			fi, err := os.Stat(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("under umask %03o, %s has mode %v, want %v", mask, n, got, want)
			}
		}
		return
	}
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, mask := range []string{"077", "022"} {
		cmd := exec.Command(exe, "-test.run=^TestLocalFilesFollowUmask$", "-test.v")
		cmd.Env = append(os.Environ(), "SINK_TEST_UMASK="+mask, "GOCOVERDIR=")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestLocalFilesFollowUmask") {
			t.Errorf("umask %s: %v\n%s", mask, err, out)
		}
	}
}

// TestLocalListSkipsFoldersOutsideThePrefix: listing the manifests at the
// top does not walk into folders that cannot hold them, so one it cannot
// read (here .pubexport/operations) does not make it fail; listing a
// prefix that folder may hold does fail, rather than miss objects.
func TestLocalListSkipsFoldersOutsideThePrefix(t *testing.T) {
	if dir := os.Getenv("SINK_TEST_UNREADABLE_DIR"); dir != "" {
		listAroundUnreadable(t, dir)
		return
	}
	t.Parallel()
	// Not t.TempDir: its parent is private to the test user.
	base, err := os.MkdirTemp("", "sink-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(filepath.Join(base, "out", ".pubexport", "operations"), 0o755)
		os.RemoveAll(base)
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "out")
	for _, n := range []string{"ExportManifest_1.json", "ExportManifest_dir/x", "Export/y", ".pubexport/operations/op-1", ".pubexport-staging/id/part-0"} {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, ".pubexport", "operations"), 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		listAroundUnreadable(t, dir)
		return
	}
	runAsNobody(t, base, "TestLocalListSkipsFoldersOutsideThePrefix", "SINK_TEST_UNREADABLE_DIR="+dir)
}

// listAroundUnreadable lists the folder TestLocalListSkipsFoldersOutsideThePrefix
// makes, as a user who cannot read its .pubexport/operations.
func listAroundUnreadable(t *testing.T, dir string) {
	t.Helper()
	b := openLocal(t, dir)
	if got, want := names(t, b, "ExportManifest_"), []string{"ExportManifest_1.json", "ExportManifest_dir/x"}; !slices.Equal(got, want) {
		t.Errorf("List(ExportManifest_) = %q, want %q", got, want)
	}
	if got, want := names(t, b, ".pubexport-staging/"), []string{".pubexport-staging/id/part-0"}; !slices.Equal(got, want) {
		t.Errorf("List(.pubexport-staging/) = %q, want %q", got, want)
	}
	for _, prefix := range []string{"", ".pubexport/", ".pubexport/operations/"} {
		_, err := b.List(context.Background(), prefix)
		wantCode(t, err, codes.PermissionDenied, "operations")
	}
}

func TestLocalPublishLinksAndSyncs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openLocal(t, "file://"+dir)
	write(t, b, "staging/a", []byte("content"))
	if _, created, err := b.Publish(context.Background(), "staging/a", "final", sink.Attrs{}); err != nil || !created {
		t.Fatalf("Publish: %v %v", created, err)
	}
	src, _ := os.Stat(filepath.Join(dir, "staging/a"))
	dst, _ := os.Stat(filepath.Join(dir, "final"))
	if !os.SameFile(src, dst) {
		t.Error("the published file is not a hard link of its source")
	}
}

func TestLocalHidesFilesInProgress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openLocal(t, dir)
	w, err := b.NewWriter(context.Background(), "staging/x", sink.Attrs{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.Write([]byte("partial"))
	entries, _ := os.ReadDir(filepath.Join(dir, "staging"))
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".pubexport-tmp-") {
		t.Fatalf("while writing, the folder holds %v, want one temporary file", entries)
	}
	if got := names(t, b, ""); len(got) != 0 {
		t.Errorf("List shows %q while writing", got)
	}
}

func TestLocalDeleteRemovesEmptyFolders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openLocal(t, dir)
	ctx := context.Background()
	write(t, b, ".pubexport-staging/id/part-0", []byte("a"))
	write(t, b, ".pubexport-staging/id/part-1", []byte("b"))
	write(t, b, "keep", []byte("c"))
	b.Delete(ctx, ".pubexport-staging/id/part-0")
	if _, err := os.Stat(filepath.Join(dir, ".pubexport-staging/id")); err != nil {
		t.Errorf("a folder still in use was removed: %v", err)
	}
	b.Delete(ctx, ".pubexport-staging/id/part-1")
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, []string{"keep"}) {
		t.Errorf("after deleting the staging files the folder holds %q, want [keep]", got)
	}
	// The destination folder itself stays, even empty.
	b.Delete(ctx, "keep")
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the destination folder went: %v", err)
	}
}

// TestLocalListShowsOrphanedTemps: a temp file left by a process that died
// (kill -9 mid-write) is listed, so that a cleanup of its folder removes it;
// one of a live process (this one) stays hidden.
func TestLocalListShowsOrphanedTemps(t *testing.T) {
	dir := t.TempDir()
	b, err := sink.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skipf("cannot run a child process: %v", err)
	}
	orphan := fmt.Sprintf("%s%d-123", ".pubexport-tmp-", dead.Process.Pid)
	live := fmt.Sprintf("%s%d-456", ".pubexport-tmp-", os.Getpid())
	if err := os.MkdirAll(filepath.Join(dir, "staging"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{orphan, live} {
		if err := os.WriteFile(filepath.Join(dir, "staging", n), []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := b.List(context.Background(), "staging/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Name != "staging/"+orphan {
		t.Fatalf("listed %+v, want only the orphaned temp file", objs)
	}
	if err := b.Delete(context.Background(), objs[0].Name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "staging", orphan)); !os.IsNotExist(err) {
		t.Fatalf("orphan still there: %v", err)
	}
}

// TestLocalConcurrentSubfolders: writers in sibling subfolders of one
// folder, each deleting what it wrote (which prunes the emptied folders),
// never trip over each other's pruning; an aborted writer leaves no folder.
func TestLocalConcurrentSubfolders(t *testing.T) {
	dir := t.TempDir()
	b, err := sink.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				name := fmt.Sprintf("staging/%d/part-%d", g, i)
				w, err := b.NewWriter(ctx, name, sink.Attrs{})
				if err != nil {
					errs <- err
					return
				}
				w.Write([]byte("x"))
				if i%5 == 0 {
					w.Abort()
					continue
				}
				if _, err := w.Close(); err != nil {
					errs <- err
					return
				}
				if err := b.Delete(ctx, name); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestLocalComposeCRC: Compose reports the CRC32C of the bytes it joined,
// whether a part was written through the bucket (its CRC32C is known and
// the copy stays in the kernel), written by someone else, or rewritten in
// place after the bucket wrote it; Publish reports the same.
func TestLocalComposeCRC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openLocal(t, "file://"+dir)
	ctx := context.Background()
	big := []byte(strings.Repeat("0123456789abcdef", 70_000)) // over one copy chunk
	write(t, b, "staging/a", []byte("first part\n"))
	write(t, b, "staging/b", big)
	write(t, b, "staging/c", []byte("rewritten later"))
	if err := os.WriteFile(filepath.Join(dir, "staging/d"), []byte("not through the bucket"), 0o666); err != nil {
		t.Fatal(err)
	}
	// Same size, other bytes, another modification time.
	c := filepath.Join(dir, "staging/c")
	if err := os.WriteFile(c, []byte("REWRITTEN LATER"), 0o666); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(c, later, later); err != nil {
		t.Fatal(err)
	}
	parts := []string{"staging/a", "staging/b", "staging/c", "staging/d", "staging/a"}
	var want []byte
	for _, p := range parts {
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, data...)
	}
	wantCRC := crc32.Checksum(want, crc32.MakeTable(crc32.Castagnoli))

	info, err := b.Compose(ctx, "staging/all", parts, sink.Attrs{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(want)) || info.CRC32C != wantCRC {
		t.Errorf("Compose reported %d bytes, CRC32C %08x; want %d, %08x", info.Size, info.CRC32C, len(want), wantCRC)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "staging/all")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the composed file holds %d bytes (%v), want the %d bytes of its parts", len(got), err, len(want))
	}
	info, created, err := b.Publish(ctx, "staging/all", "final", sink.Attrs{})
	if err != nil || !created {
		t.Fatalf("Publish: %v %v", created, err)
	}
	if info.Size != int64(len(want)) || info.CRC32C != wantCRC {
		t.Errorf("Publish reported %d bytes, CRC32C %08x; want %d, %08x", info.Size, info.CRC32C, len(want), wantCRC)
	}
}
