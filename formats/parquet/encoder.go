// Package parquet writes protobuf messages as an Apache Parquet file whose
// schema is derived from the message descriptor at run time (see node in
// schema.go for the mapping).
//
// Rows are built here, with their definition and repetition levels, rather
// than by parquet-go's own protobuf support: in parquet-go v0.32.0 that
// path panics on repeated message fields, and its generated-struct path
// writes enums as numbers and repeated fields without the LIST type.
package parquet

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/field"
	"pubexport/formats/json"
)

// Defaults for Options. parquet-go keeps every page of a row group in
// memory, compressed, until the row group is written, and does not bound
// row groups itself, so both a row and a byte cap apply. The byte cap is
// on what is held (see heldPages), so the buffered row group weighs the
// same whatever an export's size and however well its records compress:
// 2 MiB is about 34k developers or 13k apps. Each row group also leaves
// metadata that parquet-go keeps until Close (column chunk, column index
// and offset index: about 1.3 KB per column), so smaller caps trade held
// pages for footer: at a million records 1 MiB held 0.5 MiB less for
// developers (15 columns) but 1.8 MiB more for apps (26 columns).
// Both caps are deterministic, so an export's bytes and hash still
// depend only on its records.
const (
	DefaultMaxRowsPerRowGroup = 100_000
	DefaultMaxRowGroupBytes   = 2 << 20
)

// pageBytes is where parquet-go cuts a column's data page (its own default
// is 256 KiB). Until a page is cut, each column holds its values
// uncompressed in pooled buffers (values, offsets and lengths, rounded up
// to the pool's size classes), so the writer holds about columns x
// (1-2) x pageBytes whatever the row group's size. 64 KiB pages took the
// peak live heap of a 100k-developer export from 25 to 17 MiB, for a file
// 3% larger than with 256 KiB pages (each page is compressed on its own);
// 32 KiB pages saved little more memory and grew the file faster.
const pageBytes = 64 << 10

// Options configure an Encoder.
type Options struct {
	// Compression is the column codec: "zstd" (default, when empty),
	// "snappy", "gzip" or "none".
	Compression string
	// MaxRowsPerRowGroup caps the rows of a row group; 0 means
	// DefaultMaxRowsPerRowGroup.
	MaxRowsPerRowGroup int64
	// MaxRowGroupBytes caps the bytes a row group holds in memory before
	// it is written (its data pages, as compressed): a row group ends
	// before the first row that finds the cap reached. 0 means
	// DefaultMaxRowGroupBytes.
	MaxRowGroupBytes int64
}

func codec(name string) (compress.Codec, error) {
	switch name {
	case "", "zstd":
		return &zstdCodec{}, nil
	case "snappy":
		return &snappy.Codec{}, nil
	case "gzip":
		return &gzip.Codec{Level: gzip.DefaultCompression}, nil
	case "none":
		return &uncompressed.Codec{}, nil
	}
	return nil, &field.Error{Field: field.Compression, Value: name,
		Problem: fmt.Sprintf("%q is not supported for parquet", name), Valid: "use zstd, snappy, gzip or none"}
}

// Encoder writes rows of one message type as one Parquet file. See the
// package formats Encoder for the contract; Flush ends the current row
// group, so calling it often makes small row groups.
type Encoder struct {
	out    io.Writer
	md     protoreflect.MessageDescriptor
	schema *parquet.Schema
	fields []*node
	opts   []parquet.WriterOption
	w      *parquet.GenericWriter[any] // created by the first Encode or Close

	held              *heldPages // counts the current row group's bytes
	maxRows, maxBytes int64
	rows              int64 // in the current row group

	columns [][]parquet.Value // values of the row being built, by column
	row     parquet.Row
	rowBuf  []parquet.Row
	json    json.Marshaler
	text    []byte // protojson text of shapeJSON values of the current row
	records int64
	closed  bool
}

// NewEncoder returns an Encoder writing md's rows to w.
func NewEncoder(w io.Writer, md protoreflect.MessageDescriptor, o Options) (*Encoder, error) {
	c, err := codec(o.Compression)
	if err != nil {
		return nil, err
	}
	held := newHeldPages()
	schema, fields := buildSchema(md)
	e := &Encoder{
		held:     held,
		out:      w,
		md:       md,
		schema:   schema,
		fields:   fields,
		maxRows:  o.MaxRowsPerRowGroup,
		maxBytes: o.MaxRowGroupBytes,
		columns:  make([][]parquet.Value, len(schema.Columns())),
		rowBuf:   make([]parquet.Row, 1),
	}
	if e.maxRows <= 0 {
		e.maxRows = DefaultMaxRowsPerRowGroup
	}
	if e.maxBytes <= 0 {
		e.maxBytes = DefaultMaxRowGroupBytes
	}
	e.opts = []parquet.WriterOption{
		schema,
		parquet.Compression(c),
		parquet.ColumnPageBuffers(held),
		// Version 1 data pages are the ones every reader understands.
		parquet.DataPageVersion(1),
		parquet.PageBufferSize(pageBytes),
		// The writer would flush at this cap by itself; Encode flushes
		// first so that its byte count stays in step.
		parquet.MaxRowsPerRowGroup(e.maxRows),
	}
	return e, nil
}

// Schema is the Parquet schema of the file (for tests and documentation).
func (e *Encoder) Schema() *parquet.Schema { return e.schema }

// writer creates the parquet writer lazily: parquet-go writes the magic
// bytes as soon as it has a writer, and encoders write nothing before the
// first Encode or Close.
func (e *Encoder) writer() *parquet.GenericWriter[any] {
	if e.w == nil {
		e.w = parquet.NewGenericWriter[any](e.out, e.opts...)
	}
	return e.w
}

// Encode adds one row. Strings that are not valid UTF-8 are refused with
// INVALID_ARGUMENT naming the field, since Parquet STRING is UTF-8.
func (e *Encoder) Encode(m proto.Message) error {
	if e.closed {
		return status.Error(codes.FailedPrecondition, "parquet: encoder is closed")
	}
	r := m.ProtoReflect()
	if r.Descriptor().FullName() != e.md.FullName() {
		return status.Errorf(codes.InvalidArgument,
			"parquet: got a %s record in a stream of %s", r.Descriptor().FullName(), e.md.FullName())
	}
	for i := range e.columns {
		e.columns[i] = e.columns[i][:0]
	}
	e.text = e.text[:0]
	if err := e.message(r, e.fields, 0, 0); err != nil {
		return status.Errorf(codes.InvalidArgument, "parquet: record %d: %v", e.records+1, err)
	}
	row := e.row[:0]
	for _, values := range e.columns {
		row = append(row, values...)
	}
	e.row = row
	if e.rows > 0 && (e.rows >= e.maxRows || e.held.bytes >= e.maxBytes) {
		if err := e.endRowGroup(); err != nil {
			return err
		}
	}
	e.rowBuf[0] = row
	if _, err := e.writer().WriteRows(e.rowBuf); err != nil {
		return fmt.Errorf("parquet: write row %d: %w", e.records+1, err)
	}
	e.rows++
	e.records++
	return nil
}

func (e *Encoder) endRowGroup() error {
	if err := e.writer().Flush(); err != nil {
		return fmt.Errorf("parquet: write row group: %w", err)
	}
	e.rows, e.held.bytes = 0, 0
	return nil
}

// Flush ends the current row group, writing it to w.
func (e *Encoder) Flush() error {
	if e.closed {
		return status.Error(codes.FailedPrecondition, "parquet: encoder is closed")
	}
	if e.rows == 0 {
		return nil
	}
	return e.endRowGroup()
}

// Close writes the last row group and the footer.
func (e *Encoder) Close() error {
	if e.closed {
		return status.Error(codes.FailedPrecondition, "parquet: encoder is closed")
	}
	e.closed = true
	if err := e.writer().Close(); err != nil {
		return fmt.Errorf("parquet: close: %w", err)
	}
	return nil
}

// message adds the values of m's fields. rep is the repetition level of
// the first value each column gets, def the definition level m is at.
func (e *Encoder) message(m protoreflect.Message, fields []*node, rep, def byte) error {
	for _, n := range fields {
		if err := e.field(m, n, rep, def); err != nil {
			return err
		}
	}
	return nil
}

func (e *Encoder) field(m protoreflect.Message, n *node, rep, def byte) error {
	switch n.shape {
	case shapeList:
		l := m.Get(n.fd).List()
		if l.Len() == 0 {
			e.nulls(n, rep, def)
			return nil
		}
		for i := range l.Len() {
			if i > 0 {
				rep = n.rep
			}
			if err := e.value(l.Get(i), n.elem, rep); err != nil {
				return err
			}
		}
		return nil
	case shapeMap:
		mp := m.Get(n.fd).Map()
		if mp.Len() == 0 {
			e.nulls(n, rep, def)
			return nil
		}
		keys := e.sortedKeys(mp, n.key.leaf)
		for i, k := range keys {
			if i > 0 {
				rep = n.rep
			}
			if err := e.value(k.Value(), n.key, rep); err != nil {
				return err
			}
			if err := e.value(mp.Get(k), n.elem, rep); err != nil {
				return err
			}
		}
		return nil
	}
	if (n.optional || n.shape != shapeLeaf) && !m.Has(n.fd) {
		e.nulls(n, rep, def)
		return nil
	}
	return e.value(m.Get(n.fd), n, rep)
}

// nulls marks every column under n as absent at definition level def.
func (e *Encoder) nulls(n *node, rep, def byte) {
	for c := n.first; c < n.end; c++ {
		e.columns[c] = append(e.columns[c], parquet.NullValue().Level(int(rep), int(def), c))
	}
}

// value adds one present value: a field, list element, map key or value.
func (e *Encoder) value(v protoreflect.Value, n *node, rep byte) error {
	switch n.shape {
	case shapeGroup:
		return e.message(v.Message(), n.children, rep, n.def)
	case shapeJSON:
		start := len(e.text)
		var err error
		if e.text, err = e.json.Append(e.text, v.Message()); err != nil {
			return err
		}
		e.leaf(n, parquet.ByteArrayValue(e.text[start:len(e.text):len(e.text)]), rep)
		return nil
	}
	var pv parquet.Value
	switch n.leaf {
	case leafBool:
		pv = parquet.BooleanValue(v.Bool())
	case leafInt32:
		pv = parquet.Int32Value(int32(v.Int()))
	case leafUint32:
		pv = parquet.Int32Value(int32(uint32(v.Uint())))
	case leafInt64:
		pv = parquet.Int64Value(v.Int())
	case leafUint64:
		pv = parquet.Int64Value(int64(v.Uint()))
	case leafFloat:
		pv = parquet.FloatValue(float32(v.Float()))
	case leafDouble:
		pv = parquet.DoubleValue(v.Float())
	case leafString:
		s := v.String()
		if !utf8.ValidString(s) {
			return fmt.Errorf("field %s holds a string that is not valid UTF-8; fix the source record", n.fd.FullName())
		}
		pv = parquet.ByteArrayValue(stringBytes(s))
	case leafBytes:
		b := v.Bytes()
		pv = parquet.ByteArrayValue(b)
	case leafEnum:
		name, ok := n.enumNames[v.Enum()]
		if !ok {
			name = strconv.AppendInt(nil, int64(v.Enum()), 10)
		}
		pv = parquet.ByteArrayValue(name)
	}
	e.leaf(n, pv, rep)
	return nil
}

func (e *Encoder) leaf(n *node, v parquet.Value, rep byte) {
	e.columns[n.col] = append(e.columns[n.col], v.Level(int(rep), int(n.def), n.col))
}

// stringBytes views s as bytes without copying: the writer copies values
// into its column buffers during WriteRows and never modifies them.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// sortedKeys returns mp's keys in protojson's order, so map entries come
// out the same way in every format and every run.
func (e *Encoder) sortedKeys(mp protoreflect.Map, kind leafKind) []protoreflect.MapKey {
	// A fresh slice: a map value may hold maps of its own.
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, func(x, y protoreflect.MapKey) int {
		switch kind {
		case leafString:
			return cmpOrdered(x.String(), y.String())
		case leafBool:
			return cmpOrdered(boolInt(x.Bool()), boolInt(y.Bool()))
		case leafUint32, leafUint64:
			return cmpOrdered(x.Uint(), y.Uint())
		default:
			return cmpOrdered(x.Int(), y.Int())
		}
	})
	return keys
}

func cmpOrdered[T int | int64 | uint64 | string](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// enumNames maps an enum's numbers to the names protojson writes (the
// first declared name of each number).
func enumNames(ed protoreflect.EnumDescriptor) map[protoreflect.EnumNumber][]byte {
	names := make(map[protoreflect.EnumNumber][]byte)
	values := ed.Values()
	for i := range values.Len() {
		v := values.Get(i)
		if _, dup := names[v.Number()]; !dup {
			names[v.Number()] = []byte(v.Name())
		}
	}
	return names
}
