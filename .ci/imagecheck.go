// imagecheck checks that a pubexport binary built as the Dockerfile builds it
// fits the final image, distroless/static: that image has no dynamic loader
// and no libc, so the binary must be a static ELF executable (no PT_INTERP
// program header, no DT_NEEDED entries), stripped as -ldflags="-s -w" asks,
// and it must run. CI has no Docker engine, so this stands in for
// `docker build`; `make image-check` builds the binary and runs it.
//
// Usage: go run ./.ci/imagecheck.go BINARY
package main

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./.ci/imagecheck.go BINARY")
		os.Exit(2)
	}
	if problems := check(os.Args[1]); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "image-check: %s: %s\n", os.Args[1], p)
		}
		os.Exit(1)
	}
	fmt.Printf("image-check: %s: static ELF, no shared libraries, stripped, runs\n", os.Args[1])
}

// check lists what keeps bin from running on distroless/static.
func check(bin string) []string {
	f, err := elf.Open(bin)
	if err != nil {
		return []string{fmt.Sprintf("not an ELF executable: %v", err)}
	}
	defer f.Close()
	var problems []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			problems = append(problems, "has a PT_INTERP program header: it needs a dynamic loader (was CGO_ENABLED=0 set?)")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		problems = append(problems, fmt.Sprintf("reading its dynamic section: %v", err))
	} else if len(libs) != 0 {
		problems = append(problems, fmt.Sprintf("needs shared libraries %v", libs))
	}
	if f.Section(".debug_info") != nil {
		problems = append(problems, `keeps DWARF: -ldflags="-s -w" was not applied`)
	}
	// And it runs: the image's ENTRYPOINT with its default CMD.
	if out, err := exec.Command(bin, "--help").CombinedOutput(); err != nil {
		problems = append(problems, fmt.Sprintf("%s --help: %v\n%s", bin, err, out))
	}
	return problems
}
