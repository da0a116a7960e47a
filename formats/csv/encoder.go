// Package csv writes protobuf messages as CSV: one row per message, one
// column per scalar field.
//
// CSV is flat, so repeated, map and message fields are left out (use JSON
// or Parquet for them). Columns follow proto declaration order and the
// header names them by their JSON names; each cell holds the same text
// protojson writes for the value (int64 in decimal, enums by name, bools as
// true/false, bytes in base64, floats incl. NaN and Infinity), and an unset
// field is an empty cell. Quoting is RFC 4180, by encoding/csv.
package csv

import (
	"encoding/csv"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/internal/protoscalar"
)

// Columns returns the header of md's CSV: the JSON names of its scalar
// fields in declaration order.
func Columns(md protoreflect.MessageDescriptor) []string {
	fields := scalarFields(md)
	names := make([]string, len(fields))
	for i, fd := range fields {
		names[i] = fd.JSONName()
	}
	return names
}

func scalarFields(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	var out []protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsList() || fd.IsMap() || fd.Message() != nil {
			continue
		}
		out = append(out, fd)
	}
	return out
}

// Encoder writes rows of one message type. See the package formats Encoder
// for the contract of Encode, Flush and Close.
type Encoder struct {
	w       *csv.Writer
	md      protoreflect.MessageDescriptor
	fields  []protoreflect.FieldDescriptor
	guard   bool
	header  bool // the header row is still to be written
	records int64
	row     []string
	ends    []int
	cell    []byte
	closed  bool
}

// NewEncoder returns an Encoder writing md's rows to w. written is the
// number of rows an earlier encoder already wrote to the object; when it
// is positive the header is not written again.
func NewEncoder(w io.Writer, md protoreflect.MessageDescriptor, o Options, written int64) (*Encoder, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cw := csv.NewWriter(w)
	cw.Comma = o.comma()
	fields := scalarFields(md)
	return &Encoder{
		w:       cw,
		md:      md,
		fields:  fields,
		guard:   o.GuardFormulas,
		header:  !o.NoHeader && written == 0,
		records: written,
		row:     make([]string, len(fields)),
		ends:    make([]int, len(fields)),
	}, nil
}

// Encode writes one row. A string that is not valid UTF-8 is an
// INVALID_ARGUMENT error naming the field, and no part of the row is
// written.
func (e *Encoder) Encode(m proto.Message) error {
	if e.closed {
		return status.Error(codes.FailedPrecondition, "csv: encoder is closed")
	}
	r := m.ProtoReflect()
	if r.Descriptor().FullName() != e.md.FullName() {
		return status.Errorf(codes.InvalidArgument,
			"csv: got a %s record in a stream of %s", r.Descriptor().FullName(), e.md.FullName())
	}
	// Format every cell into one buffer first, then slice it, so a row
	// costs one allocation (the string of the whole row).
	e.cell = e.cell[:0]
	ends := e.ends
	for i, fd := range e.fields {
		if r.Has(fd) {
			start := len(e.cell)
			var ok bool
			e.cell, ok = protoscalar.AppendText(e.cell, fd, r.Get(fd))
			if !ok {
				return status.Errorf(codes.InvalidArgument,
					"csv: record %d: field %s holds a string that is not valid UTF-8; fix the source record",
					e.records+1, fd.FullName())
			}
			if e.guard && isText(fd) && start < len(e.cell) && isFormulaStart(e.cell[start]) {
				e.cell = append(e.cell[:start+1], e.cell[start:]...)
				e.cell[start] = '\''
			}
		}
		ends[i] = len(e.cell)
	}
	all := string(e.cell)
	prev := 0
	for i, end := range ends {
		e.row[i] = all[prev:end]
		prev = end
	}
	if err := e.writeHeader(); err != nil {
		return err
	}
	if err := e.w.Write(e.row); err != nil {
		return fmt.Errorf("csv: write: %w", err)
	}
	e.records++
	return nil
}

func isText(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.StringKind || fd.Kind() == protoreflect.BytesKind
}

// isFormulaStart reports whether a spreadsheet would treat a cell starting
// with c as a formula (OWASP's list for CSV injection).
func isFormulaStart(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

func (e *Encoder) writeHeader() error {
	if !e.header {
		return nil
	}
	e.header = false
	if err := e.w.Write(Columns(e.md)); err != nil {
		return fmt.Errorf("csv: write header: %w", err)
	}
	return nil
}

// Flush writes every buffered row to w.
func (e *Encoder) Flush() error {
	if e.closed {
		return status.Error(codes.FailedPrecondition, "csv: encoder is closed")
	}
	e.w.Flush()
	if err := e.w.Error(); err != nil {
		return fmt.Errorf("csv: write: %w", err)
	}
	return nil
}

// Close writes the header if no row did, and everything buffered.
func (e *Encoder) Close() error {
	if err := e.writeHeader(); err != nil {
		return err
	}
	if err := e.Flush(); err != nil {
		return err
	}
	e.closed = true
	return nil
}
