package formats

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Compression names how an object's bytes are compressed. For the text
// formats it wraps the whole stream (gzip); for Parquet it is the codec of
// the column chunks inside the file.
type Compression string

// The supported compressions.
const (
	None   Compression = "none"
	Gzip   Compression = "gzip"
	Zstd   Compression = "zstd"
	Snappy Compression = "snappy"
)

// ParseCompression returns the Compression spelled s for format f, or an
// INVALID_ARGUMENT error naming --compression and the values f accepts.
// An empty s picks the default: None for the text formats (so objects open
// anywhere), Zstd for Parquet (as small as gzip, about as fast as Snappy).
func ParseCompression(f Format, s string) (Compression, error) {
	valid := []Compression{None, Gzip}
	def := None
	if f == Parquet {
		valid = []Compression{None, Gzip, Zstd, Snappy}
		def = Zstd
	}
	if s == "" {
		return def, nil
	}
	names := make([]string, len(valid))
	for i, c := range valid {
		if strings.EqualFold(s, string(c)) {
			return c, nil
		}
		names[i] = string(c)
	}
	return "", status.Errorf(codes.InvalidArgument,
		"--compression %q is not supported for --format %s; use one of %s",
		s, f, strings.Join(names, ", "))
}

// ContentEncoding is the Content-Encoding stored with the object: "gzip"
// for a gzipped text format, so HTTP clients may decompress transparently,
// and "" otherwise (Parquet's compression is internal to the file).
func (c Compression) ContentEncoding(f Format) string {
	if c == Gzip && f != Parquet {
		return "gzip"
	}
	return ""
}
