// Package json writes protobuf messages as JSON: one JSON array per object
// (NewArrayEncoder) or one object per line (NewLinesEncoder, NDJSON).
//
// Each record is exactly what protojson means for the message (JSON names,
// 64-bit integers as strings, enums by name, unset fields omitted, bytes in
// base64), written compactly and deterministically by Marshaler, which is
// several times faster than protojson.Marshal because it plans each message
// type once instead of walking descriptors for every record.
package json

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The array layout puts each record on its own line so that objects are
// readable and diffable, while staying one JSON value:
//
//	[
//	{...},
//	{...}
//	]
//
// An empty object is "[]\n". A resumed encoder starts with ",\n", so the
// layout is the same wherever an object was interrupted.
const (
	arrayOpen      = "[\n"
	arraySeparator = ",\n"
	arrayClose     = "\n]\n"
	arrayEmpty     = "[]\n"
)

// flushThreshold bounds the buffer: records are handed to the writer in
// chunks of about this size, so memory does not grow with the object.
const flushThreshold = 64 << 10

// Encoder writes records of one message type. See the package formats
// Encoder for the contract of Encode, Flush and Close.
type Encoder struct {
	w       io.Writer
	md      protoreflect.MessageDescriptor
	j       Marshaler
	buf     []byte
	array   bool
	records int64 // records in the object, including those of earlier encoders
	closed  bool
	err     error // sticky write error
}

// NewArrayEncoder returns an Encoder writing one JSON array. written is the
// number of records an earlier encoder already wrote to the object; the
// new encoder continues that array.
func NewArrayEncoder(w io.Writer, md protoreflect.MessageDescriptor, written int64) *Encoder {
	return &Encoder{w: w, md: md, array: true, records: written}
}

// NewLinesEncoder returns an Encoder writing newline-delimited JSON: one
// object per line. Lines need no state, so resuming needs no count.
func NewLinesEncoder(w io.Writer, md protoreflect.MessageDescriptor) *Encoder {
	return &Encoder{w: w, md: md}
}

// Encode appends one record. A record that cannot be encoded (a string
// that is not valid UTF-8) is an INVALID_ARGUMENT error and leaves the
// output untouched.
func (e *Encoder) Encode(m proto.Message) error {
	if err := e.usable(); err != nil {
		return err
	}
	r := m.ProtoReflect()
	if r.Descriptor().FullName() != e.md.FullName() {
		return status.Errorf(codes.InvalidArgument,
			"json: got a %s record in a stream of %s", r.Descriptor().FullName(), e.md.FullName())
	}
	start := len(e.buf)
	if e.array {
		if e.records == 0 {
			e.buf = append(e.buf, arrayOpen...)
		} else {
			e.buf = append(e.buf, arraySeparator...)
		}
	}
	var err error
	e.buf, err = e.j.Append(e.buf, r)
	if err != nil {
		e.buf = e.buf[:start]
		var bad *InvalidUTF8Error
		if errors.As(err, &bad) {
			return status.Errorf(codes.InvalidArgument,
				"json: record %d: %v; JSON cannot represent it (fix the source record)", e.records+1, err)
		}
		return status.Errorf(codes.InvalidArgument, "json: record %d: %v", e.records+1, err)
	}
	if !e.array {
		e.buf = append(e.buf, '\n')
	}
	e.records++
	if len(e.buf) >= flushThreshold {
		return e.write()
	}
	return nil
}

// Flush writes every buffered record to w.
func (e *Encoder) Flush() error {
	if err := e.usable(); err != nil {
		return err
	}
	return e.write()
}

// Close writes the end of the array (if any) and everything buffered.
func (e *Encoder) Close() error {
	if err := e.usable(); err != nil {
		return err
	}
	e.closed = true
	if e.array {
		if e.records == 0 {
			e.buf = append(e.buf, arrayEmpty...)
		} else {
			e.buf = append(e.buf, arrayClose...)
		}
	}
	return e.write()
}

func (e *Encoder) usable() error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return status.Error(codes.FailedPrecondition, "json: encoder is closed")
	}
	return nil
}

func (e *Encoder) write() error {
	if len(e.buf) == 0 {
		return nil
	}
	if _, err := e.w.Write(e.buf); err != nil {
		e.err = fmt.Errorf("json: write: %w", err)
		return e.err
	}
	e.buf = e.buf[:0]
	return nil
}
