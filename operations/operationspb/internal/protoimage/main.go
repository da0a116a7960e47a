// Command protoimage compiles the project's .proto files into a
// FileDescriptorSet that `buf generate` takes as its input (see the
// Makefile's generate target).
//
// Why not let buf compile them: export.proto imports googleapis
// (google/api/annotations.proto, google/longrunning/operations.proto), and
// buf would need those files as source, from the Buf Schema Registry or a
// vendored copy. Neither is reachable or wanted here. The Go modules that
// go.mod already pins (genproto's annotations, longrunningpb) carry the
// compiled descriptors of exactly those files, so this command resolves
// such imports from the descriptors linked into it and compiles the
// project's own files from source with protocompile, the compiler buf is
// built on. The set holds every file the named ones need, imports first;
// buf generate --path then generates only the project's own.
//
// Usage: go run ./operations/operationspb/internal/protoimage -o OUT.binpb FILE.proto...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// The googleapis files export.proto imports, as compiled descriptors.
	_ "cloud.google.com/go/longrunning/autogen/longrunningpb"
	_ "google.golang.org/genproto/googleapis/api/annotations"
)

func main() {
	out := flag.String("o", "", "where to write the FileDescriptorSet (binary)")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: protoimage -o OUT.binpb FILE.proto...")
		os.Exit(2)
	}
	if err := run(context.Background(), *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "protoimage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string, files []string) error {
	c := protocompile.Compiler{
		Resolver: protocompile.CompositeResolver{
			protocompile.WithStandardImports(&protocompile.SourceResolver{}),
			protocompile.ResolverFunc(linked),
		},
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := c.Compile(ctx, files...)
	if err != nil {
		return err
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range compiled {
		add(fd)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}

// linked resolves an import from the descriptors linked into this binary.
func linked(path string) (protocompile.SearchResult, error) {
	fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
	if errors.Is(err, protoregistry.NotFound) {
		return protocompile.SearchResult{}, fmt.Errorf("%s: no such file in the project nor among the descriptors linked into protoimage: %w", path, err)
	}
	return protocompile.SearchResult{Desc: fd}, err
}
