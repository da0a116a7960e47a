// Package layout expands the placeholders a destination may hold, such as
// gs://BUCKET/apigee/{resource}/{date}, so that recurring exports land in one
// folder per resource and day instead of one flat prefix.
//
// The placeholders are {org}, {resource}, {date} (UTC, YYYY-MM-DD), {time}
// (UTC, HHMMSS) and {operation} (the operation id). They may appear anywhere
// after the bucket (or in any folder of a file:// path); the part of the
// destination before the first folder that holds one is the root, which does
// not change from run to run: the latest-export pointers live there.
package layout

import (
	"fmt"
	"strings"
	"time"

	"pubexport/formats/field"
)

// Values are what the placeholders stand for in one export.
type Values struct {
	Org       string
	Resource  string
	Operation string    // the operation id (not its full name, which has slashes)
	Time      time.Time // the export's creation time; formatted in UTC
}

// Names lists the placeholders, in the order error messages give them.
var Names = []string{"{org}", "{resource}", "{date}", "{time}", "{operation}"}

// HasPlaceholders reports whether dest holds a placeholder (or a brace).
func HasPlaceholders(dest string) bool { return strings.ContainsAny(dest, "{}") }

// Validate checks that every brace in dest opens or closes a known
// placeholder and that none is in the bucket name. It does no I/O.
func Validate(dest string) error {
	rest := dest
	for {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			break
		}
		if rest[i] == '}' {
			return fmt.Errorf("%q has a \"}\" without its \"{\"; placeholders are %s", field.Echo(dest), strings.Join(Names, ", "))
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("%q has a \"{\" without its \"}\"; placeholders are %s", field.Echo(dest), strings.Join(Names, ", "))
		}
		p := rest[i : i+j+1]
		if !known(p) {
			return fmt.Errorf("%q: unknown placeholder %s; use %s", field.Echo(dest), field.Echo(p), strings.Join(Names, ", "))
		}
		rest = rest[i+j+1:]
	}
	if b, ok := strings.CutPrefix(strings.ToLower(dest), "gs://"); ok {
		bucket, _, _ := strings.Cut(b, "/")
		if HasPlaceholders(bucket) {
			return fmt.Errorf("%q: placeholders may not appear in the bucket name, only after it (gs://BUCKET/apigee/{resource}/{date})", dest)
		}
	}
	return nil
}

func known(p string) bool {
	for _, n := range Names {
		if p == n {
			return true
		}
	}
	return false
}

// Expand replaces the placeholders in dest with v. dest must be valid.
func Expand(dest string, v Values) string {
	if !HasPlaceholders(dest) {
		return dest
	}
	t := v.Time.UTC()
	return strings.NewReplacer(
		"{org}", v.Org,
		"{resource}", v.Resource,
		"{date}", t.Format(time.DateOnly),
		"{time}", t.Format("150405"),
		"{operation}", v.Operation,
	).Replace(dest)
}

// Root is dest up to (not including) the first folder that holds a
// placeholder: the part that is the same for every export. A destination
// without placeholders is its own root.
func Root(dest string) string {
	i := strings.IndexByte(dest, '{')
	if i < 0 {
		return strings.TrimSuffix(dest, "/")
	}
	j := strings.LastIndexByte(dest[:i], '/')
	root := dest[:j]
	if strings.HasSuffix(root, "://") {
		// file:///{org}: the root is the file system root.
		return root + "/"
	}
	return root
}
