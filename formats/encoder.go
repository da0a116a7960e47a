package formats

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/csv"
	"pubexport/formats/field"
	"pubexport/formats/json"
	"pubexport/formats/parquet"
)

// Options configure NewEncoder.
type Options struct {
	// Compression of the object; see ParseCompression for the defaults.
	Compression Compression
	// CSV holds the CSV dialect; ignored by the other formats.
	CSV csv.Options
	// Written is the number of records an earlier encoder already wrote to
	// this object and flushed. The new encoder continues the same byte
	// stream: no "[" or header again, and a JSON array starts with its
	// separator. Parquet objects cannot be resumed (Format.Resumable).
	Written int64
}

// Encoder writes records of one message type as one object.
//
// Encode buffers; Flush pushes every byte of the records so far to the
// writer at a record boundary (for gzip it ends the current gzip member;
// for Parquet it ends the current row group, so call it rarely there).
// The output up to a Flush is a prefix that a new encoder created with
// Options.Written set to the number of records continues byte-identically,
// giving the same bytes as an encoder that never stopped (given the same
// Flush points). Encoders write nothing before the first Encode or Close.
// Close finishes the object (closing "]", Parquet footer, gzip trailer) but
// does not close the writer.
type Encoder interface {
	Encode(m proto.Message) error
	Flush() error
	Close() error
}

// NewEncoder returns an Encoder writing records described by md to w in
// format f. Option errors are INVALID_ARGUMENT naming the flag to fix.
func NewEncoder(w io.Writer, f Format, md protoreflect.MessageDescriptor, o Options) (Encoder, error) {
	if md == nil {
		return nil, errors.New("formats: a message descriptor is required")
	}
	if o.Written < 0 {
		return nil, fmt.Errorf("formats: Written is %d; it counts records and cannot be negative", o.Written)
	}
	c := o.Compression
	if c == "" {
		var err error
		if c, err = ParseCompression(f, ""); err != nil {
			return nil, err
		}
	}
	if _, err := ParseCompression(f, string(c)); err != nil {
		return nil, err
	}
	if f == Parquet {
		if o.Written > 0 {
			return nil, fmt.Errorf("formats: a parquet object cannot be resumed after %d records; start the object again", o.Written)
		}
		return parquet.NewEncoder(w, md, parquet.Options{Compression: string(c)})
	}

	out := w
	var stream *gzipStream
	if c == Gzip {
		var err error
		if stream, err = newGzipStream(w, o.Written > 0); err != nil {
			return nil, fmt.Errorf("formats: %w", err)
		}
		out = stream
	}
	var inner Encoder
	switch f {
	case JSON:
		inner = json.NewArrayEncoder(out, md, o.Written)
	case NDJSON:
		inner = json.NewLinesEncoder(out, md)
	case CSV:
		enc, err := csv.NewEncoder(out, md, o.CSV, o.Written)
		if err != nil {
			return nil, err
		}
		inner = enc
	default:
		return nil, &field.Error{Field: field.Format, Value: string(f),
			Problem: fmt.Sprintf("%q is not supported", f), Valid: "use one of " + joinFormats()}
	}
	if stream != nil {
		return &gzipEncoder{inner: inner, stream: stream}, nil
	}
	return inner, nil
}
