// Package bqschema derives a BigQuery table schema from a protobuf message
// descriptor, for the records the NDJSON and Parquet encoders write: the
// JSON `bq load --schema` and `bq mk --table` accept (a list of
// TableFieldSchema), with the encoders' column names (the fields' JSON
// names) and the types their values load as:
//
//   - bool BOOL; 32- and 64-bit signed and 32-bit unsigned integers INT64
//     (NDJSON writes 64-bit ones as JSON strings, which BigQuery loads into
//     INT64); 64-bit unsigned NUMERIC, which holds all of them; float and
//     double FLOAT64; string STRING; bytes BYTES (base64 in NDJSON);
//   - enums STRING, the value's name, as both encoders write them;
//   - messages RECORD with their fields; repeated fields mode REPEATED,
//     every other field NULLABLE (an unset field is left out or null);
//   - messages the encoders write as text (the well-known types, recursive
//     and empty messages): STRING, or JSON for NDJSON's Struct, Value and
//     ListValue and its recursive and empty messages, which are objects;
//   - maps: JSON in NDJSON (an object), and in Parquet a REPEATED RECORD of
//     key and value (the MAP logical type's key_value).
//
// The package knows protobuf and BigQuery's schema format, nothing of the
// records' meaning.
package bqschema

import (
	"encoding/json"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Field is one TableFieldSchema.
type Field struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Mode   string  `json:"mode"`
	Fields []Field `json:"fields,omitempty"`
}

// Style says which encoder's output the schema describes.
type Style int

const (
	// NDJSON is protojson, one object a line.
	NDJSON Style = iota
	// Parquet is formats/parquet's mapping.
	Parquet
)

// Modes.
const (
	Nullable = "NULLABLE"
	Repeated = "REPEATED"
)

// For returns the schema of md's records as style writes them.
func For(md protoreflect.MessageDescriptor, style Style) []Field {
	b := builder{style: style}
	return b.message(md)
}

// JSON is the schema as the bq tool reads it, indented, with a final
// newline.
func JSON(fields []Field) ([]byte, error) {
	b, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type builder struct {
	style Style
	path  []protoreflect.FullName // messages being expanded, to stop recursion
}

func (b *builder) message(md protoreflect.MessageDescriptor) []Field {
	b.path = append(b.path, md.FullName())
	defer func() { b.path = b.path[:len(b.path)-1] }()
	fields := md.Fields()
	out := make([]Field, 0, fields.Len())
	for i := range fields.Len() {
		out = append(out, b.field(fields.Get(i)))
	}
	return out
}

func (b *builder) field(fd protoreflect.FieldDescriptor) Field {
	f := Field{Name: fd.JSONName(), Mode: Nullable}
	if fd.IsMap() {
		if b.style == NDJSON {
			f.Type = "JSON"
			return f
		}
		f.Type, f.Mode = "RECORD", Repeated
		f.Fields = []Field{b.value(fd.MapKey(), "key"), b.value(fd.MapValue(), "value")}
		return f
	}
	v := b.value(fd, f.Name)
	if fd.IsList() {
		v.Mode = Repeated
	}
	return v
}

// value is the field for one value of fd, named name.
func (b *builder) value(fd protoreflect.FieldDescriptor, name string) Field {
	f := Field{Name: name, Mode: Nullable}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		f.Type = "BOOL"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		f.Type = "INT64"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		f.Type = "NUMERIC"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f.Type = "FLOAT64"
	case protoreflect.StringKind, protoreflect.EnumKind:
		f.Type = "STRING"
	case protoreflect.BytesKind:
		f.Type = "BYTES"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		md := fd.Message()
		if b.expandable(md) {
			f.Type = "RECORD"
			f.Fields = b.message(md)
		} else {
			f.Type = b.textType(md)
		}
	}
	return f
}

// expandable reports whether md is a RECORD (the rule of formats/parquet:
// not a well-known type, not empty, not recursive).
func (b *builder) expandable(md protoreflect.MessageDescriptor) bool {
	if md.FullName().Parent() == "google.protobuf" || md.Fields().Len() == 0 {
		return false
	}
	for _, name := range b.path {
		if name == md.FullName() {
			return false
		}
	}
	return true
}

// textType is the type of a message written as text: Parquet holds its
// protojson text in a string; NDJSON holds the JSON value itself, an
// object for most messages and a string for the well-known scalars
// (Timestamp, Duration, FieldMask, the wrappers' strings).
func (b *builder) textType(md protoreflect.MessageDescriptor) string {
	if b.style == Parquet {
		return "STRING"
	}
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
		"google.protobuf.StringValue", "google.protobuf.BytesValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value":
		return "STRING"
	case "google.protobuf.BoolValue":
		return "BOOL"
	case "google.protobuf.Int32Value", "google.protobuf.UInt32Value":
		return "INT64"
	case "google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return "FLOAT64"
	}
	return "JSON"
}
