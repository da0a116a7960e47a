package formats

import (
	"fmt"
	"strings"

	"pubexport/formats/field"
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
	return "", &field.Error{Field: field.Compression, Value: s,
		Problem: fmt.Sprintf("%q is not supported for format %s", field.Echo(s), f), Valid: "use one of " + strings.Join(names, ", ")}
}

// ContentType is the MIME type an object of format f with this compression
// is stored with: "application/gzip" for a gzipped text format, else the
// format's own type (Parquet's compression is internal to the file).
//
// A gzipped object is deliberately not stored as its format's type with
// Content-Encoding: gzip. Cloud Storage serves such objects decompressed
// to most downloaders (decompressive transcoding), so the bytes a user gets
// would no longer hash to the ExportFinal_<sha256> name that promises them.
// BigQuery's compressed extracts are stored the same way.
func (c Compression) ContentType(f Format) string {
	if c == Gzip && f != Parquet {
		return "application/gzip"
	}
	return f.ContentType()
}
