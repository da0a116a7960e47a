package json

import (
	"cmp"
	"slices"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/internal/protoscalar"
)

// appendMap writes a map field as a JSON object with entries in the order
// protojson uses (false before true, numbers ascending, strings by UTF-8
// bytes), so the output does not depend on Go's map iteration order.
// mapEntry is one map entry, collected so entries can be sorted.
type mapEntry struct {
	k protoreflect.MapKey
	v protoreflect.Value
}

func (j *Marshaler) appendMap(b []byte, m protoreflect.Map, f *fieldPlan) ([]byte, error) {
	// Entries are collected on the Marshaler's reused stack: a map value
	// may itself hold maps, which push above ours and pop before we go on.
	base := len(j.entries)
	m.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		j.entries = append(j.entries, mapEntry{k, v})
		return true
	})
	entries := j.entries[base:]
	defer func() { j.entries = j.entries[:base] }()
	switch f.key {
	case kindString:
		slices.SortFunc(entries, func(x, y mapEntry) int { return cmp.Compare(x.k.String(), y.k.String()) })
	case kindBool:
		slices.SortFunc(entries, func(x, y mapEntry) int {
			return cmp.Compare(boolInt(x.k.Bool()), boolInt(y.k.Bool()))
		})
	case kindUint, kindUint64:
		slices.SortFunc(entries, func(x, y mapEntry) int { return cmp.Compare(x.k.Uint(), y.k.Uint()) })
	default:
		slices.SortFunc(entries, func(x, y mapEntry) int { return cmp.Compare(x.k.Int(), y.k.Int()) })
	}
	b = append(b, '{')
	var err error
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		// JSON object keys are strings whatever the proto key type.
		k := e.k
		switch f.key {
		case kindString:
			var ok bool
			if b, ok = protoscalar.AppendJSONString(b, k.String()); !ok {
				return b, &InvalidUTF8Error{Field: f.fd.FullName()}
			}
		case kindBool:
			b = append(b, '"')
			b = strconv.AppendBool(b, k.Bool())
			b = append(b, '"')
		case kindUint, kindUint64:
			b = append(b, '"')
			b = strconv.AppendUint(b, k.Uint(), 10)
			b = append(b, '"')
		default:
			b = append(b, '"')
			b = strconv.AppendInt(b, k.Int(), 10)
			b = append(b, '"')
		}
		b = append(b, ':')
		if b, err = j.appendValue(b, e.v, &f.value); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}
