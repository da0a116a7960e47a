package pagejson

import (
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Direct field stores for generated message types.
//
// Setting a field through protoreflect costs two or three allocations and a
// few reflect calls (the value is boxed, converted and, for an optional
// field, copied into a new pointer); for a page of apps that is most of the
// decoding time. For a generated Go struct the field's offset is known, so
// the decoder stores into it directly, as protobuf-go's own fast paths do,
// and hands out the pointers of optional fields from per-page slabs. A
// message type qualifies only if every field has one of the layouts below
// (plain or optional scalars, repeated strings, message fields and
// repeated messages) and so do the types it reaches; anything else, such as
// dynamicpb messages, takes the protoreflect path, with the same results.

// store says how a field is kept in its Go struct.
type store uint8

const (
	viaReflect  store = iota // not a direct layout: use protoreflect
	optString                // *string
	plainString              // string
	optInt64                 // *int64
	plainInt64               // int64
	optInt32                 // *int32 (also enums, whose Go type is an int32)
	plainInt32               // int32
	optBool                  // *bool
	plainBool                // bool
	repString                // []string
	oneMessage               // *T
	repMessage               // []*T
)

// goLayout finds md's generated Go struct type, or nil.
func goLayout(md protoreflect.MessageDescriptor) reflect.Type {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil || mt.Descriptor() != md {
		return nil
	}
	t := reflect.TypeOf(mt.Zero().Interface())
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	return t.Elem()
}

// structFields maps field numbers to the Go fields that hold them, read
// from the `protobuf:"bytes,3,opt,name=..."` tags of generated code.
func structFields(t reflect.Type) map[protoreflect.FieldNumber]reflect.StructField {
	out := make(map[protoreflect.FieldNumber]reflect.StructField)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("protobuf")
		if tag == "" || strings.Contains(tag, ",oneof") && !strings.Contains(tag, "proto3") {
			continue
		}
		parts := strings.Split(tag, ",")
		if len(parts) < 2 {
			continue
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			continue
		}
		out[protoreflect.FieldNumber(n)] = f
	}
	return out
}

// layoutOf decides the store of fd, held in the Go field sf.
func layoutOf(fd protoreflect.FieldDescriptor, sf reflect.StructField, sub *Plan) store {
	t := sf.Type
	ptr := t.Kind() == reflect.Pointer
	elem := t
	if ptr {
		elem = t.Elem()
	}
	if ptr != fd.HasPresence() && fd.Kind() != protoreflect.MessageKind {
		return viaReflect
	}
	switch {
	case fd.IsList() && fd.Kind() == protoreflect.StringKind && t == reflect.TypeFor[[]string]():
		return repString
	case fd.IsList() && fd.Kind() == protoreflect.MessageKind && sub != nil && sub.goType != nil &&
		t.Kind() == reflect.Slice && t.Elem() == reflect.PointerTo(sub.goType):
		return repMessage
	case fd.IsList():
		return viaReflect
	case fd.Kind() == protoreflect.MessageKind && sub != nil && sub.goType != nil && t == reflect.PointerTo(sub.goType):
		return oneMessage
	case fd.Kind() == protoreflect.StringKind && elem.Kind() == reflect.String:
		return pick2(ptr, optString, plainString)
	case (fd.Kind() == protoreflect.Int64Kind || fd.Kind() == protoreflect.Sint64Kind || fd.Kind() == protoreflect.Sfixed64Kind) && elem.Kind() == reflect.Int64:
		return pick2(ptr, optInt64, plainInt64)
	case (fd.Kind() == protoreflect.Int32Kind || fd.Kind() == protoreflect.Sint32Kind || fd.Kind() == protoreflect.Sfixed32Kind || fd.Kind() == protoreflect.EnumKind) && elem.Kind() == reflect.Int32:
		return pick2(ptr, optInt32, plainInt32)
	case fd.Kind() == protoreflect.BoolKind && elem.Kind() == reflect.Bool:
		return pick2(ptr, optBool, plainBool)
	}
	return viaReflect
}

func pick2(ptr bool, a, b store) store {
	if ptr {
		return a
	}
	return b
}

// slabs hand out the pointers of optional scalars, a few allocations per
// page instead of one per field. They live as long as the page's records.
type slabs struct {
	strs   []string
	int64s []int64
	int32s []int32
	bools  []bool
}

const slabSize = 512

func (s *slabs) str(v string) *string {
	if len(s.strs) == 0 {
		s.strs = make([]string, slabSize)
	}
	p := &s.strs[0]
	s.strs = s.strs[1:]
	*p = v
	return p
}

func (s *slabs) int64(v int64) *int64 {
	if len(s.int64s) == 0 {
		s.int64s = make([]int64, slabSize)
	}
	p := &s.int64s[0]
	s.int64s = s.int64s[1:]
	*p = v
	return p
}

func (s *slabs) int32(v int32) *int32 {
	if len(s.int32s) == 0 {
		s.int32s = make([]int32, slabSize/4)
	}
	p := &s.int32s[0]
	s.int32s = s.int32s[1:]
	*p = v
	return p
}

func (s *slabs) bool(v bool) *bool {
	if len(s.bools) == 0 {
		s.bools = make([]bool, slabSize/4)
	}
	p := &s.bools[0]
	s.bools = s.bools[1:]
	*p = v
	return p
}

// setDirect stores a decoded scalar v of field f into its Go field at p.
func (d *decoder) setDirect(p unsafe.Pointer, f *fieldPlan, v protoreflect.Value) {
	switch f.st {
	case optString:
		*(**string)(p) = d.slabs.str(v.String())
	case plainString:
		*(*string)(p) = v.String()
	case optInt64:
		*(**int64)(p) = d.slabs.int64(v.Int())
	case plainInt64:
		*(*int64)(p) = v.Int()
	case optInt32:
		*(**int32)(p) = d.slabs.int32(int32Of(f, v))
	case plainInt32:
		*(*int32)(p) = int32Of(f, v)
	case optBool:
		*(**bool)(p) = d.slabs.bool(v.Bool())
	case plainBool:
		*(*bool)(p) = v.Bool()
	case repString:
		sl := (*[]string)(p)
		*sl = append(*sl, v.String())
	}
}

// int32Of reads an int32 or enum value.
func int32Of(f *fieldPlan, v protoreflect.Value) int32 {
	if f.kind == protoreflect.EnumKind {
		return int32(v.Enum())
	}
	return int32(v.Int())
}
