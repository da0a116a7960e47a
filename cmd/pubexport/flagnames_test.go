package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestLibrariesNameNoFlags: no package outside cmd/ mentions one of this
// program's flags in a string (an error message, above all). Libraries are
// also used by the job, which is configured by environment variables, and
// by API callers, who send request fields: they name values (package
// field), and cmd/ says which flag set them. Commands of other programs
// (gcloud's --member, say) are fine.
func TestLibrariesNameNoFlags(t *testing.T) {
	flags := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { flags[f.Name] = true }
		c.Flags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(newTestApp(nil).app))
	delete(flags, "help")
	if !flags["to"] || !flags["format"] || !flags["org"] {
		t.Fatalf("flags %v lack --to, --format or --org: the walk is broken", flags)
	}
	mention := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	root := filepath.Join("..", "..")
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "cmd" || rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		found++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range mention.FindAllStringSubmatch(s, -1) {
				if flags[m[1]] {
					t.Errorf("%s: %q mentions the flag --%s; name the value (package field) and let cmd/ name the flag", rel, s, m[1])
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 50 {
		t.Fatalf("only %d library files read: the walk is broken", found)
	}
}
