package json

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/internal/protoscalar"
)

// A messagePlan is everything about one message type that encoding needs,
// worked out once: field order, quoted JSON names, enum names. Walking the
// descriptor for every record is what makes protojson slow; plans make the
// per-record work a loop over a slice.
type messagePlan struct {
	md protoreflect.MessageDescriptor
	// fields in declaration order, the order protojson writes them.
	fields []fieldPlan
	// protojson marks message types whose JSON form is not their fields:
	// the well-known types (Timestamp as an RFC 3339 string, Struct as an
	// object, ...) and messages that may carry extensions. Those are
	// delegated to protojson; see wkt.go.
	protojson bool
}

// valueKind says how a singular value (a field, a list element or a map
// value) is written.
type valueKind uint8

const (
	kindBool   valueKind = iota
	kindInt              // 32-bit signed: a JSON number
	kindUint             // 32-bit unsigned: a JSON number
	kindInt64            // 64-bit signed: a JSON string, as protojson writes it
	kindUint64           // 64-bit unsigned: a JSON string
	kindFloat
	kindDouble
	kindString
	kindBytes
	kindEnum
	kindNullEnum // google.protobuf.NullValue: always null
	kindMessage
)

// A valuePlan describes a singular value.
type valuePlan struct {
	kind  valueKind
	enum  *enumNames   // kindEnum
	msg   *messagePlan // kindMessage
	field protoreflect.FieldDescriptor
}

// A fieldPlan is one field of a message.
type fieldPlan struct {
	fd protoreflect.FieldDescriptor
	// name is `"jsonName":`, written as is.
	name  []byte
	list  bool
	isMap bool
	value valuePlan // the field, its list elements, or its map values
	key   valueKind // the map key kind
}

// enumNames caches the quoted JSON string of every declared number of an
// enum. Numbers not declared are written as JSON numbers, as protojson does.
type enumNames struct {
	ed     protoreflect.EnumDescriptor
	quoted map[protoreflect.EnumNumber][]byte
}

func (e *enumNames) append(b []byte, n protoreflect.EnumNumber) []byte {
	if q, ok := e.quoted[n]; ok {
		return append(b, q...)
	}
	return append(b, protoscalar.EnumName(e.ed, n)...)
}

// planner builds and caches plans. It belongs to one Marshaler (no
// globals): plans are cheap to build and an encoder lives for a whole
// object.
type planner struct {
	messages map[protoreflect.MessageDescriptor]*messagePlan
	enums    map[protoreflect.EnumDescriptor]*enumNames
}

func (p *planner) message(md protoreflect.MessageDescriptor) *messagePlan {
	if mp, ok := p.messages[md]; ok {
		return mp
	}
	if p.messages == nil {
		p.messages = make(map[protoreflect.MessageDescriptor]*messagePlan)
		p.enums = make(map[protoreflect.EnumDescriptor]*enumNames)
	}
	mp := &messagePlan{md: md}
	// Registered before the fields are planned, so recursive types
	// terminate.
	p.messages[md] = mp
	if delegatedToProtojson(md) {
		mp.protojson = true
		return mp
	}
	fields := md.Fields()
	mp.fields = make([]fieldPlan, fields.Len())
	for i := range mp.fields {
		fd := fields.Get(i)
		fp := fieldPlan{fd: fd, list: fd.IsList(), isMap: fd.IsMap()}
		name, _ := protoscalar.AppendJSONString(nil, fd.JSONName())
		fp.name = append(name, ':')
		switch {
		case fp.isMap:
			fp.key = kindOf(fd.MapKey())
			fp.value = p.value(fd.MapValue())
		default:
			fp.value = p.value(fd)
		}
		mp.fields[i] = fp
	}
	return mp
}

func (p *planner) value(fd protoreflect.FieldDescriptor) valuePlan {
	vp := valuePlan{kind: kindOf(fd), field: fd}
	switch vp.kind {
	case kindEnum:
		vp.enum = p.enum(fd.Enum())
	case kindMessage:
		vp.msg = p.message(fd.Message())
	}
	return vp
}

func (p *planner) enum(ed protoreflect.EnumDescriptor) *enumNames {
	if e, ok := p.enums[ed]; ok {
		return e
	}
	e := &enumNames{ed: ed, quoted: make(map[protoreflect.EnumNumber][]byte)}
	values := ed.Values()
	for i := range values.Len() {
		n := values.Get(i).Number()
		if _, dup := e.quoted[n]; dup {
			continue // an alias: protojson writes the first name
		}
		e.quoted[n], _ = protoscalar.AppendJSONString(nil, protoscalar.EnumName(ed, n))
	}
	p.enums[ed] = e
	return e
}

func kindOf(fd protoreflect.FieldDescriptor) valueKind {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return kindBool
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return kindInt
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return kindUint
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return kindInt64
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return kindUint64
	case protoreflect.FloatKind:
		return kindFloat
	case protoreflect.DoubleKind:
		return kindDouble
	case protoreflect.StringKind:
		return kindString
	case protoreflect.BytesKind:
		return kindBytes
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return kindNullEnum
		}
		return kindEnum
	default: // MessageKind, GroupKind
		return kindMessage
	}
}
