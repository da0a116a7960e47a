package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	_ "pubexport/export/apigee/apigeepb"
	_ "pubexport/operations/operationspb"
)

// TestGeneratedCodeIsCurrent compiles every .proto file of the repository as
// `make generate` does and checks that the descriptor embedded in the
// checked-in Go code is the same: a .proto edited without regenerating
// fails here, without needing buf or the plugins installed.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "*.proto").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout)", err)
	}
	files := strings.Fields(string(out))
	if len(files) < 4 {
		t.Fatalf("git ls-files found %d .proto files, want the project's 4 or more: %q", len(files), files)
	}
	t.Chdir(root)
	set := filepath.Join(t.TempDir(), "protos.binpb")
	if err := run(context.Background(), set, files); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(set)
	if err != nil {
		t.Fatal(err)
	}
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &fds); err != nil {
		t.Fatal(err)
	}
	compiled := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range fds.GetFile() {
		compiled[f.GetName()] = f
	}
	checked := 0
	for _, path := range files {
		fresh := compiled[path]
		if fresh == nil {
			t.Errorf("%s: not in the compiled set", path)
			continue
		}
		fresh.SourceCodeInfo = nil // protoc-gen-go leaves it out of the embedded descriptor
		fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
		if err != nil {
			// formats/internal/testpb cannot be imported from here; it is
			// compiled (above) but not compared.
			t.Logf("%s: not linked into this test, compiled only", path)
			continue
		}
		checked++
		if linked := protodesc.ToFileDescriptorProto(fd); !proto.Equal(fresh, linked) {
			t.Errorf("%s changed since its Go code was generated: run `make generate` and commit the result", path)
		}
	}
	if checked < 3 {
		t.Errorf("compared %d files with their Go code, want at least apigeepb's two and operationspb's", checked)
	}
}

// TestImportsResolveFromLinkedDescriptors checks what makes generation work
// offline: googleapis imports come from the Go modules, not from source.
func TestImportsResolveFromLinkedDescriptors(t *testing.T) {
	for _, path := range []string{"google/api/annotations.proto", "google/api/http.proto", "google/longrunning/operations.proto"} {
		r, err := linked(path)
		if err != nil || r.Desc == nil {
			t.Errorf("linked(%q) = %v, %v", path, r.Desc, err)
		}
	}
	if _, err := linked("google/nothing/here.proto"); err == nil || !strings.Contains(err.Error(), "google/nothing/here.proto") {
		t.Errorf("linked of a missing file: error %v, want one naming the file", err)
	}

}
