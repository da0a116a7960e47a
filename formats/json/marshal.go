package json

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/internal/protoscalar"
)

// Marshaler appends the JSON of messages: exactly protojson's output with
// no optional whitespace, fields in declaration order, map entries in
// protojson's key order. The bytes depend only on the message, unlike
// protojson's, which vary between builds.
//
// A Marshaler caches a plan per message type, so keep one per stream. It
// is not safe for concurrent use.
type Marshaler struct {
	plans planner
	// last skips the plan map lookup for the common case: every record of
	// an object has the same type.
	last *messagePlan
	// entries is scratch space for sorting map entries.
	entries []mapEntry
}

// InvalidUTF8Error reports a string that is not valid UTF-8, which JSON
// cannot carry and protojson refuses to write.
type InvalidUTF8Error struct {
	Field protoreflect.FullName
}

func (e *InvalidUTF8Error) Error() string {
	return fmt.Sprintf("field %s holds a string that is not valid UTF-8", e.Field)
}

// Append appends the JSON object of m to b. On error b is returned
// unchanged in length: a record is written whole or not at all.
func (j *Marshaler) Append(b []byte, m protoreflect.Message) ([]byte, error) {
	md := m.Descriptor()
	mp := j.last
	if mp == nil || mp.md != md {
		mp = j.plans.message(md)
		j.last = mp
	}
	start := len(b)
	b, err := j.appendMessage(b, m, mp)
	if err != nil {
		return b[:start], err
	}
	if needsInitCheck(md) {
		if err := proto.CheckInitialized(m.Interface()); err != nil {
			return b[:start], err
		}
	}
	return b, nil
}

// needsInitCheck reports whether md declares required fields (proto2),
// which protojson checks; proto3 types never do.
func needsInitCheck(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile().Syntax() == protoreflect.Proto2
}

func (j *Marshaler) appendMessage(b []byte, m protoreflect.Message, mp *messagePlan) ([]byte, error) {
	if mp.protojson {
		return appendProtojson(b, m)
	}
	b = append(b, '{')
	first := true
	var err error
	for i := range mp.fields {
		f := &mp.fields[i]
		if !m.Has(f.fd) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.name...)
		v := m.Get(f.fd)
		switch {
		case f.list:
			b, err = j.appendList(b, v.List(), &f.value)
		case f.isMap:
			b, err = j.appendMap(b, v.Map(), f)
		default:
			b, err = j.appendValue(b, v, &f.value)
		}
		if err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func (j *Marshaler) appendList(b []byte, l protoreflect.List, vp *valuePlan) ([]byte, error) {
	b = append(b, '[')
	var err error
	for i, n := 0, l.Len(); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = j.appendValue(b, l.Get(i), vp); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

func (j *Marshaler) appendValue(b []byte, v protoreflect.Value, vp *valuePlan) ([]byte, error) {
	switch vp.kind {
	case kindString:
		var ok bool
		if b, ok = protoscalar.AppendJSONString(b, v.String()); !ok {
			return b, &InvalidUTF8Error{Field: vp.field.FullName()}
		}
	case kindInt64:
		b = append(b, '"')
		b = strconv.AppendInt(b, v.Int(), 10)
		b = append(b, '"')
	case kindUint64:
		b = append(b, '"')
		b = strconv.AppendUint(b, v.Uint(), 10)
		b = append(b, '"')
	case kindInt:
		b = strconv.AppendInt(b, v.Int(), 10)
	case kindUint:
		b = strconv.AppendUint(b, v.Uint(), 10)
	case kindBool:
		b = strconv.AppendBool(b, v.Bool())
	case kindEnum:
		b = vp.enum.append(b, v.Enum())
	case kindNullEnum:
		b = append(b, "null"...)
	case kindFloat, kindDouble:
		f := v.Float()
		bits := 64
		if vp.kind == kindFloat {
			bits = 32
		}
		word := protoscalar.IsFloatWord(f)
		if word {
			b = append(b, '"')
		}
		b = protoscalar.AppendFloat(b, f, bits)
		if word {
			b = append(b, '"')
		}
	case kindBytes:
		b = append(b, '"')
		b = protoscalar.AppendBytes(b, v.Bytes())
		b = append(b, '"')
	case kindMessage:
		return j.appendMessage(b, v.Message(), vp.msg)
	}
	return b, nil
}
