package parquet

import (
	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The schema mirrors the message descriptor:
//
//   - scalar fields are leaf columns named by their JSON names: int32 and
//     int64 as INT(32|64), unsigned as UINT, float/double, bool, string as
//     STRING, bytes as BYTE_ARRAY, enums as STRING holding the value name
//     (readable without the .proto; unknown numbers in decimal, as protojson);
//   - fields with presence (proto3 optional, oneof members, proto2) are
//     OPTIONAL and null when unset; proto3 fields without presence are
//     REQUIRED and hold their zero value when unset;
//   - message fields are OPTIONAL groups (null when unset);
//   - repeated fields are the standard 3-level LIST (required list,
//     repeated "list", required "element"): an empty repeated field is an
//     empty list, and elements are never null because proto has no null;
//   - maps are the standard MAP logical type (repeated "key_value" with a
//     required "key" and "value"), entries in protojson's key order;
//   - messages that cannot be a group are a STRING column holding their
//     compact protojson text: the well-known types (Timestamp, Struct, ...),
//     whose JSON form is what users expect, recursive types, which would
//     need an infinite schema, and types without fields, since parquet has
//     no empty groups.
type node struct {
	fd    protoreflect.FieldDescriptor
	shape shape
	leaf  leafKind // leaf shapes
	// optional is set when the node itself is OPTIONAL (presence).
	optional bool
	// def is the definition level of a present value of this node (for
	// lists and maps: of an element / entry); rep is the repetition level
	// of the node's repeated level (lists and maps).
	def, rep byte
	// col is the leaf's column; cols is the range [first, end) of the leaf
	// columns under the node, which an absent node fills with nulls.
	col         int
	first, end  int
	children    []*node // shapeGroup: the message's fields
	elem        *node   // shapeList: the element; shapeMap: the value
	key         *node   // shapeMap
	enumNames   map[protoreflect.EnumNumber][]byte
	messageDesc protoreflect.MessageDescriptor // shapeJSON
}

type shape uint8

const (
	shapeLeaf  shape = iota
	shapeGroup       // a message as a group of its fields
	shapeJSON        // a message as a string of its protojson text
	shapeList
	shapeMap
)

type leafKind uint8

const (
	leafBool leafKind = iota
	leafInt32
	leafUint32
	leafInt64
	leafUint64
	leafFloat
	leafDouble
	leafString
	leafBytes
	leafEnum
)

// schemaBuilder derives the parquet schema and the row-building plan in
// one walk, so the two cannot disagree on column order.
type schemaBuilder struct {
	columns int
	path    []protoreflect.FullName // messages being expanded, to stop recursion
}

// buildSchema returns the root group and the plan of its fields.
func buildSchema(md protoreflect.MessageDescriptor) (*parquet.Schema, []*node) {
	b := &schemaBuilder{path: []protoreflect.FullName{md.FullName()}}
	root, fields := b.group(md, 0, 0)
	return parquet.NewSchema(string(md.Name()), root), fields
}

func (b *schemaBuilder) group(md protoreflect.MessageDescriptor, def, rep byte) (*orderedGroup, []*node) {
	g := &orderedGroup{}
	var plan []*node
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		pn, n := b.field(fd, def, rep)
		g.add(fd.JSONName(), pn)
		plan = append(plan, n)
	}
	return g, plan
}

func (b *schemaBuilder) field(fd protoreflect.FieldDescriptor, def, rep byte) (parquet.Node, *node) {
	first := b.columns
	var pn parquet.Node
	var n *node
	switch {
	case fd.IsMap():
		n = &node{fd: fd, shape: shapeMap, def: def + 1, rep: rep + 1}
		kpn, k := b.value(fd.MapKey(), n.def, n.rep)
		vpn, v := b.value(fd.MapValue(), n.def, n.rep)
		n.key, n.elem = k, v
		pn = parquet.Map(kpn, vpn)
	case fd.IsList():
		n = &node{fd: fd, shape: shapeList, def: def + 1, rep: rep + 1}
		epn, e := b.value(fd, n.def, n.rep)
		n.elem = e
		pn = parquet.List(epn)
	default:
		optional := fd.HasPresence()
		d := def
		if optional {
			d++
		}
		pn, n = b.value(fd, d, rep)
		if optional {
			pn = parquet.Optional(pn)
		}
		n.optional = optional
	}
	n.fd = fd
	n.first, n.end = first, b.columns
	return pn, n
}

// value returns the required node of one value of fd: the field itself, a
// list element or a map key or value. def and rep are its levels.
func (b *schemaBuilder) value(fd protoreflect.FieldDescriptor, def, rep byte) (parquet.Node, *node) {
	n := &node{fd: fd, def: def, rep: rep, first: b.columns}
	defer func() { n.end = b.columns }()
	if md := fd.Message(); md != nil {
		if b.expandable(md) {
			b.path = append(b.path, md.FullName())
			g, children := b.group(md, def, rep)
			b.path = b.path[:len(b.path)-1]
			n.shape, n.children = shapeGroup, children
			return g, n
		}
		n.shape, n.messageDesc, n.leaf = shapeJSON, md, leafString
		n.col = b.columns
		b.columns++
		return parquet.String(), n
	}
	n.shape, n.col = shapeLeaf, b.columns
	b.columns++
	switch fd.Kind() {
	case protoreflect.BoolKind:
		n.leaf = leafBool
		return parquet.Leaf(parquet.BooleanType), n
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n.leaf = leafInt32
		return parquet.Int(32), n
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n.leaf = leafUint32
		return parquet.Uint(32), n
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n.leaf = leafInt64
		return parquet.Int(64), n
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n.leaf = leafUint64
		return parquet.Uint(64), n
	case protoreflect.FloatKind:
		n.leaf = leafFloat
		return parquet.Leaf(parquet.FloatType), n
	case protoreflect.DoubleKind:
		n.leaf = leafDouble
		return parquet.Leaf(parquet.DoubleType), n
	case protoreflect.StringKind:
		n.leaf = leafString
		return parquet.String(), n
	case protoreflect.EnumKind:
		n.leaf = leafEnum
		n.enumNames = enumNames(fd.Enum())
		return parquet.String(), n
	default: // BytesKind
		n.leaf = leafBytes
		return parquet.Leaf(parquet.ByteArrayType), n
	}
}

// expandable reports whether md becomes a group (see the node comment for
// the messages that become JSON text instead).
func (b *schemaBuilder) expandable(md protoreflect.MessageDescriptor) bool {
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
