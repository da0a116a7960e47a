// Package formats turns a stream of protobuf messages into the bytes of one
// export object: a JSON array, newline-delimited JSON, CSV or Parquet.
//
// The formats know protobuf reflection and nothing about Apigee: every
// encoder is built from a message descriptor, so the same code serves any
// resource the exporter learns to list. Encoders are streaming (one message
// at a time, memory bounded by a buffer or a Parquet row group) and
// deterministic (the same messages always give the same bytes), which is
// what lets an interrupted export resume an object byte-identically.
package formats

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/csv"
	"pubexport/formats/field"
)

// Format names an output file format, as spelled on the command line.
type Format string

// The supported formats.
const (
	JSON    Format = "json"
	NDJSON  Format = "ndjson"
	CSV     Format = "csv"
	Parquet Format = "parquet"
)

// formatList is the order formats are offered to users in error messages.
var formatList = [...]Format{JSON, NDJSON, CSV, Parquet}

// ParseFormat returns the Format spelled s (case-insensitive), or a
// *field.Error naming the format and the valid values.
func ParseFormat(s string) (Format, error) {
	for _, f := range formatList {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	return "", &field.Error{Field: field.Format, Value: s,
		Problem: fmt.Sprintf("%q is not supported", field.Echo(s)), Valid: "use one of " + joinFormats()}
}

// Formats lists every Format, in the order they are offered to users: the
// one list that help texts, request validation and errors are built from.
func Formats() []Format { return formatList[:len(formatList):len(formatList)] }

func joinFormats() string {
	names := make([]string, len(formatList))
	for i, f := range formatList {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// ContentType is the MIME type of this format's uncompressed content;
// Compression.ContentType is the type an object is stored with.
func (f Format) ContentType() string {
	switch f {
	case JSON:
		return "application/json"
	case NDJSON:
		return "application/x-ndjson"
	case CSV:
		return "text/csv"
	case Parquet:
		return "application/vnd.apache.parquet"
	}
	return "application/octet-stream"
}

// Extension is the object name suffix for this format and compression,
// e.g. ".ndjson.gz". Parquet compresses inside the file, so its extension
// never changes.
func (f Format) Extension(c Compression) string {
	var ext string
	switch f {
	case JSON:
		ext = ".json"
	case NDJSON:
		ext = ".ndjson"
	case CSV:
		ext = ".csv"
	case Parquet:
		return ".parquet"
	default:
		return ""
	}
	if c == Gzip {
		ext += ".gz"
	}
	return ext
}

// Resumable reports whether an interrupted object of this format can be
// continued by a new encoder (Options.Written). Parquet cannot: its footer
// describes every row group in the file, so the file is only valid once a
// single writer has seen all of it.
func (f Format) Resumable() bool { return f != Parquet }

// Columns is the schema recorded in the export manifest: for CSV the header
// row (the JSON names of the scalar fields), for the other formats the JSON
// names of the top-level fields, in proto declaration order.
func Columns(f Format, md protoreflect.MessageDescriptor) []string {
	if f == CSV {
		return csv.Columns(md)
	}
	fields := md.Fields()
	names := make([]string, fields.Len())
	for i := range names {
		names[i] = fields.Get(i).JSONName()
	}
	return names
}
