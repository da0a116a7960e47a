package sink

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"pubexport/formats/field"

	"google.golang.org/grpc/codes"
)

// Limits of Cloud Storage object names, and the share of them the export
// keeps for the names it adds under the prefix (staging folders, content
// hashes, compose intermediates).
const (
	maxObjectName = 1024
	reservedNames = 256
	// MaxPrefixBytes is the longest destination prefix accepted, in bytes.
	MaxPrefixBytes = maxObjectName - reservedNames
)

// dest is a parsed destination: either bucket (+prefix) or dir is set.
type dest struct {
	bucket string // Cloud Storage bucket
	prefix string // "" or ends in "/"
	dir    string // absolute local directory
}

// invalidDest is an INVALID_ARGUMENT error about the destination, wrapping
// a *field.Error so that each front door can name the destination its own
// way (--to, PUBEXPORT_TO, the request's destination field).
//
// The values it quotes (the destination and its parts) are cut to
// field.MaxEcho.
func invalidDest(format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = field.Echo(s)
		}
	}
	return fieldError(codes.InvalidArgument, "", &field.Error{Field: field.Destination, Problem: fmt.Sprintf(format, args...)})
}

// parseDest validates a destination without touching the network or disk.
func parseDest(s string) (d dest, err error) {
	defer func() {
		var fe *field.Error
		if errors.As(err, &fe) && fe.Value == "" {
			fe.Value = s
		}
	}()
	if s == "" {
		return dest{}, invalidDest("a destination is required: gs://BUCKET/PREFIX, file:///DIR or a folder path")
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, isControl) >= 0 {
		return dest{}, invalidDest("%q contains control characters or invalid UTF-8; remove them", s)
	}
	scheme, rest, hasScheme := splitScheme(s)
	switch {
	case !hasScheme:
		return localDest(s)
	case scheme == "gs":
		return gcsDest(s, rest)
	case scheme == "file":
		return fileDest(s)
	default:
		return dest{}, invalidDest("%q: unsupported scheme %q; use gs://BUCKET/PREFIX for Cloud Storage or file:///DIR (or a plain path) for a local folder", s, scheme)
	}
}

// splitScheme recognises "scheme://rest". Malformed spellings of our own
// schemes ("gs:bucket", "gs:/bucket") are reported rather than taken for
// local file names.
func splitScheme(s string) (scheme, rest string, ok bool) {
	i := strings.Index(s, ":")
	if i <= 0 {
		return "", "", false
	}
	scheme = strings.ToLower(s[:i])
	for j, r := range scheme {
		if !(r >= 'a' && r <= 'z' || j > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return "", "", false
		}
	}
	if strings.HasPrefix(s[i:], "://") {
		return scheme, s[i+3:], true
	}
	if scheme == "gs" || scheme == "file" {
		return scheme, "", true // handled as malformed by the callers
	}
	return "", "", false
}

func gcsDest(s, rest string) (dest, error) {
	if !strings.HasPrefix(strings.ToLower(s), "gs://") {
		return dest{}, invalidDest("%q is not a Cloud Storage URL; write gs://BUCKET/PREFIX", s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return dest{}, invalidDest("%q names no bucket; write gs://BUCKET/PREFIX", s)
	}
	if err := checkBucketName(bucket); err != nil {
		return dest{}, invalidDest("%q: bucket name %q %v; see https://cloud.google.com/storage/docs/buckets#naming", s, bucket, err)
	}
	if prefix != "" {
		if err := checkPrefix(prefix); err != nil {
			return dest{}, invalidDest("%q: prefix %q %v", s, prefix, err)
		}
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		if len(prefix) > MaxPrefixBytes {
			return dest{}, invalidDest("%q: the prefix is %d bytes, at most %d are allowed so that object names stay within Cloud Storage's %d-byte limit; use a shorter prefix", s, len(prefix), MaxPrefixBytes, maxObjectName)
		}
	}
	return dest{bucket: bucket, prefix: prefix}, nil
}

// checkBucketName applies Cloud Storage's bucket naming rules.
func checkBucketName(b string) error {
	if len(b) < 3 {
		return fmt.Errorf("is shorter than 3 characters")
	}
	if max := 63; !strings.Contains(b, ".") && len(b) > max {
		return fmt.Errorf("is longer than %d characters", max)
	}
	if len(b) > 222 {
		return fmt.Errorf("is longer than 222 characters")
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("may contain only lowercase letters, digits, '-', '_' and '.', not %q", r)
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return fmt.Errorf("must start and end with a letter or digit")
	}
	for _, c := range strings.Split(b, ".") {
		if c == "" {
			return fmt.Errorf("has an empty dot-separated component")
		}
		if len(c) > 63 {
			return fmt.Errorf("has a dot-separated component longer than 63 characters")
		}
	}
	if net.ParseIP(b) != nil {
		return fmt.Errorf("has the form of an IP address")
	}
	if strings.HasPrefix(b, "goog") {
		return fmt.Errorf("must not start with \"goog\"")
	}
	if strings.Contains(b, "google") || strings.Contains(b, "g00gle") {
		return fmt.Errorf("must not contain \"google\"")
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// isControl reports C0 and C1 control characters and DEL: Cloud Storage
// rejects CR and LF in names and the rest break XML listings and terminals.
func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// checkPrefix applies the object-name rules to a destination prefix, and
// refuses characters that gcloud and URLs would read as wildcards or as a
// query, which would make the exported objects awkward to address.
func checkPrefix(p string) error {
	if i := strings.IndexAny(p, "?#*[]"); i >= 0 {
		return fmt.Errorf("contains %q, which gcloud and URLs treat specially; choose a prefix without ? # * [ ]", p[i])
	}
	if strings.HasPrefix(p, ".well-known/acme-challenge/") || p == ".well-known/acme-challenge" {
		return fmt.Errorf("is under .well-known/acme-challenge/, which Cloud Storage reserves")
	}
	return checkPath(strings.TrimSuffix(p, "/"))
}

// checkPath rejects what is not a clean relative slash-separated path: a
// leading "/", empty segments ("//"), "." and "..".
func checkPath(p string) error {
	if !utf8.ValidString(p) || strings.IndexFunc(p, isControl) >= 0 {
		return fmt.Errorf("contains control characters or invalid UTF-8")
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("starts with \"/\"; write gs://BUCKET/PREFIX with a single slash after the bucket")
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return fmt.Errorf("contains an empty segment (\"//\"); remove the extra slash")
		case ".", "..":
			return fmt.Errorf("contains a %q segment; give the prefix without . or .. parts", seg)
		}
	}
	return nil
}

func fileDest(s string) (dest, error) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || !strings.HasPrefix(strings.ToLower(s), "file://") {
		return dest{}, invalidDest("%q is not a valid file URL; write file:///ABSOLUTE/DIR or a plain path", s)
	}
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return dest{}, invalidDest("%q names host %q; only local folders are supported: write file:///DIR", s, u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return dest{}, invalidDest("%q has a query or fragment; escape ? and # in file URLs as %%3F and %%23, or give a plain path", s)
	}
	if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
		return dest{}, invalidDest("%q names no absolute folder; write file:///ABSOLUTE/DIR", s)
	}
	if strings.ContainsRune(u.Path, 0) || strings.IndexFunc(u.Path, isControl) >= 0 {
		return dest{}, invalidDest("%q contains control characters; remove them", s)
	}
	return folderDest(s, filepath.Clean(filepath.FromSlash(u.Path)))
}

func localDest(s string) (dest, error) {
	dir, err := filepath.Abs(s)
	if err != nil {
		return dest{}, invalidDest("cannot resolve folder %q: %v", s, err)
	}
	return folderDest(s, dir)
}

// Limits of local folder names (Linux's PATH_MAX and NAME_MAX), checked
// before any work: past them every write would fail.
const (
	maxFolderPath = 4096 - reservedNames
	maxNameBytes  = 255
)

func folderDest(s, dir string) (dest, error) {
	if len(dir) > maxFolderPath {
		return dest{}, invalidDest("%q: the folder path is %d bytes, at most %d are allowed so that the files in it stay within the system's path limit; use a shorter path", s, len(dir), maxFolderPath)
	}
	for _, part := range strings.Split(filepath.ToSlash(dir), "/") {
		if len(part) > maxNameBytes {
			return dest{}, invalidDest("%q: the folder name %q is %d bytes, file systems allow %d; use a shorter name", s, part, len(part), maxNameBytes)
		}
	}
	return dest{dir: dir}, nil
}

// checkName validates an object name given to a Bucket method; full is the
// name with the prefix, which Cloud Storage limits to 1024 bytes.
func checkName(name, full string) error {
	if name == "" || strings.HasSuffix(name, "/") {
		return newError(codes.InvalidArgument, nil, "object name %q is empty or ends with \"/\"", name)
	}
	if err := checkPath(name); err != nil {
		return newError(codes.InvalidArgument, nil, "object name %q %v", name, err)
	}
	if len(full) > maxObjectName {
		return newError(codes.InvalidArgument, nil, "object name %q is %d bytes with the prefix, Cloud Storage allows %d", name, len(full), maxObjectName)
	}
	return nil
}

// Location is a storage URI taken apart: a Cloud Storage bucket and prefix
// ("" or ending in "/"), or an absolute local folder.
type Location struct {
	Bucket string
	Prefix string
	Dir    string
}

// ParseURI checks uri as Open does, without touching the network or disk:
// gs://BUCKET[/PREFIX] with Cloud Storage's bucket naming rules and the
// prefix's limits, file:///DIR, or a folder path (made absolute). It is the
// one parser of storage URIs, shared by everything that opens storage (the
// operation store too). Errors are INVALID_ARGUMENT wrapping a *field.Error
// about the destination; a caller that parses another value relabels it.
func ParseURI(uri string) (Location, error) {
	d, err := parseDest(uri)
	if err != nil {
		return Location{}, err
	}
	return Location{Bucket: d.bucket, Prefix: d.prefix, Dir: d.dir}, nil
}

// ValidateDestination checks a destination as Open would, without touching
// the network or the disk, so that a command can refuse a bad destination
// before it starts anything else.
func ValidateDestination(dest string) error {
	_, err := parseDest(dest)
	return err
}
