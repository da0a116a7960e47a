// Package pagejson decodes one JSON document (a page of a list response)
// into a generated protobuf message, with protojson's semantics and several
// times its speed.
//
// It exists because protojson.Unmarshal decodes a 1000-app page at about
// 32k apps a second on one core, which is a third of what Apigee's quota can
// deliver. Nothing here knows Apigee: a Plan is compiled from any message
// descriptor whose fields the decoder supports.
package pagejson

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// The page decoder.
//
// The decoder does protojson's job several times faster (see
// BenchmarkDecodePage in export/apigee). It scans the page bytes once, looks fields up in a table built once per
// message type, and stores values straight into the generated structs
// (fastset.go; protoreflect for other message types). Strings without escapes
// are substrings of one copy of the page, so a page costs one large
// allocation instead of one per field; a record therefore keeps its page's
// text alive, which is fine because records live no longer than their page.
//
// It has protojson's semantics (DiscardUnknown) for the field kinds the
// Apigee messages use (string, bool, int32, int64, uint32, uint64, enum,
// message, repeated): JSON or proto field names, int64 as string or number,
// numbers like 1.0 or 1e3 accepted where integral, enums by name or number,
// null meaning "not set", duplicate fields and invalid UTF-8 rejected, the
// same nesting limit. Documented differences, all stricter:
//   - An exponent without digits ("1e", "1e+") is an error; protojson
//     v1.36 accepts it when a delimiter follows.
//   - Compile refuses message types with maps, floats, bytes, groups or
//     well-known types, whose JSON forms this decoder does not implement.
// The differential tests and FuzzDecodePage hold it to that.

// recursionLimit is protojson's default nesting limit
// (protowire.DefaultRecursionLimit).
const recursionLimit = 10000

// Plan is the field table of one message type, built once by Compile and
// immutable after: one Plan may decode many pages at once.
type Plan struct {
	md     protoreflect.MessageDescriptor
	byName map[string]*fieldPlan // JSON names and proto names
	slots  int                   // fields + oneofs, for duplicate detection
	order  []*fieldPlan          // by field index: JSON usually comes in this order
	goType reflect.Type          // the generated struct, or nil
	direct bool                  // every field is stored directly (fastset.go)
}

// fieldPlan is what decoding one field needs, looked up once.
type fieldPlan struct {
	fd    protoreflect.FieldDescriptor
	slot  int // fd.Index()
	oneof int // slot of the real oneof holding the field, or -1
	kind  protoreflect.Kind
	list  bool
	msg   *Plan                             // message fields
	enum  protoreflect.EnumValueDescriptors // enum fields
	json  string                            // JSON name
	off   uintptr                           // offset of the Go field (direct stores)
	st    store                             // how the Go field is stored
}

// Compile builds the field tables of md and every message type it reaches.
// It refuses message types with fields whose JSON forms the decoder does not
// implement (see the notes above).
func Compile(md protoreflect.MessageDescriptor) (*Plan, error) {
	done := make(map[protoreflect.FullName]*Plan)
	p, err := compileInto(md, done)
	if err != nil {
		return nil, err
	}
	// A message is stored directly only if the messages it reaches are:
	// clear the flag up the graph until nothing changes.
	for changed := true; changed; {
		changed = false
		for _, q := range done {
			if !q.direct {
				continue
			}
			for _, f := range q.byName {
				if f.msg != nil && !f.msg.direct {
					q.direct, changed = false, true
					break
				}
			}
		}
	}
	return p, nil
}

// Direct reports whether Decode stores into messages of p's generated Go
// type directly, without protoreflect (the fast path, fastset.go). A type
// without generated code, or with a field layout fastset.go does not know,
// is decoded through protoreflect, with the same results but slower.
func (p *Plan) Direct() bool { return p.direct }

func compileInto(md protoreflect.MessageDescriptor, done map[protoreflect.FullName]*Plan) (*Plan, error) {
	if p := done[md.FullName()]; p != nil {
		return p, nil // recursive types share one table
	}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil, fmt.Errorf("%s: well-known types are not supported", md.FullName())
	}
	fields := md.Fields()
	p := &Plan{md: md, byName: make(map[string]*fieldPlan, 2*fields.Len()), slots: fields.Len() + md.Oneofs().Len()}
	p.goType = goLayout(md)
	p.direct = p.goType != nil
	var goFields map[protoreflect.FieldNumber]reflect.StructField
	if p.goType != nil {
		goFields = structFields(p.goType)
	}
	done[md.FullName()] = p
	for i := range fields.Len() {
		fd := fields.Get(i)
		f := &fieldPlan{fd: fd, slot: i, oneof: -1, kind: fd.Kind(), list: fd.IsList(), json: fd.JSONName()}
		p.order = append(p.order, f)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			f.oneof = fields.Len() + od.Index()
		}
		switch {
		case fd.IsMap():
			return nil, fmt.Errorf("%s: map fields are not supported", fd.FullName())
		case f.kind == protoreflect.MessageKind:
			sub, err := compileInto(fd.Message(), done)
			if err != nil {
				return nil, err
			}
			f.msg = sub
		case f.kind == protoreflect.EnumKind:
			if fd.Enum().FullName() == "google.protobuf.NullValue" {
				return nil, fmt.Errorf("%s: google.protobuf.NullValue is not supported", fd.FullName())
			}
			f.enum = fd.Enum().Values()
		case f.kind == protoreflect.StringKind, f.kind == protoreflect.BoolKind,
			f.kind == protoreflect.Int32Kind, f.kind == protoreflect.Sint32Kind, f.kind == protoreflect.Sfixed32Kind,
			f.kind == protoreflect.Int64Kind, f.kind == protoreflect.Sint64Kind, f.kind == protoreflect.Sfixed64Kind,
			f.kind == protoreflect.Uint32Kind, f.kind == protoreflect.Fixed32Kind,
			f.kind == protoreflect.Uint64Kind, f.kind == protoreflect.Fixed64Kind:
		default:
			return nil, fmt.Errorf("%s: %v fields are not supported", fd.FullName(), f.kind)
		}
		if sf, ok := goFields[fd.Number()]; ok {
			f.off, f.st = sf.Offset, layoutOf(fd, sf, f.msg)
		}
		if f.st == viaReflect {
			p.direct = false
		}
		p.byName[fd.JSONName()] = f
		p.byName[string(fd.Name())] = f // protojson accepts both
	}
	return p, nil
}

// SyntaxError is a page that is not the JSON it should be. Offset is the
// byte offset in the page where decoding stopped; Path is the field it was
// in, such as app[3].credentials[0].consumerSecret, when it was in one (an
// unknown field shows as "(unknown field)"). Neither Msg nor Path ever
// quotes the page's text, which may be a secret: they name the kind of
// token found and the field by its name in the schema.
type SyntaxError struct {
	Offset int
	Path   string
	Msg    string
	// stricter marks input that protojson accepts and this decoder
	// deliberately refuses (see the package notes above).
	stricter bool
}

// Stricter reports whether the error refuses input that protojson accepts,
// in one of the documented ways (see Compile): the differential tests need
// to tell those refusals from disagreements.
func (e *SyntaxError) Stricter() bool { return e.stricter }

func (e *SyntaxError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("at byte %d in %s: %s", e.Offset, e.Path, e.Msg)
	}
	return fmt.Sprintf("at byte %d: %s", e.Offset, e.Msg)
}

// within records, as err returns through the decoder, that it happened inside
// seg: a field name, or an index such as "[3]". Only failed decodes pay for
// a path.
func within(err error, seg string) error {
	se, ok := err.(*SyntaxError)
	if !ok {
		return err
	}
	if se.Path == "" || se.Path[0] == '[' {
		se.Path = seg + se.Path
	} else {
		se.Path = seg + "." + se.Path
	}
	return err
}

// unknownField stands in the path for a field the schema does not have;
// its name comes from the page and is not repeated.
const unknownField = "(unknown field)"

// decoder is the state of decoding one JSON document.
type decoder struct {
	s       string
	i       int
	unknown Unknown // unknown fields and enum names ignored
	// records holds those of them inside each element of a top-level list
	// (a list page's records) that has any, by its index; elem is the
	// index of the element being decoded, -1 outside them.
	records map[int]Unknown
	elem    int
	path    []string // JSON names of the message fields being decoded
	slabs   slabs
}

// UnknownKey names one kind of thing a decode ignored: an unknown field by
// its path of JSON names from the top ("apiProduct.operationGroup.newField",
// array indexes left out), or an unknown enum value by its field's path and
// the value (Value "API_SOURCE" of "apiProduct.quotaCounterScope").
type UnknownKey struct {
	Path  string
	Value string // "" for an unknown field
}

// Unknown counts what a decode ignored, by kind.
type Unknown map[UnknownKey]int

// Total is how many things were ignored in all.
func (u Unknown) Total() int {
	n := 0
	for _, c := range u {
		n += c
	}
	return n
}

// Bounds on what Unknown keeps of a page, which comes from a server: names
// are cut, and past maxUnknownKinds distinct kinds the rest are counted
// under OtherUnknown, so that a page of a million distinct names costs no
// more than a page of a hundred.
const (
	maxUnknownName  = 200
	maxUnknownKinds = 100
)

// OtherUnknown counts the unknown fields and values past maxUnknownKinds.
var OtherUnknown = UnknownKey{Path: "(other unknown fields and values)"}

// ignore counts an unknown field name (value "") or an unknown enum value
// of field name, at the current path.
func (d *decoder) ignore(name, value string) {
	if d.unknown == nil {
		d.unknown = Unknown{}
	}
	var b strings.Builder
	for _, p := range d.path {
		b.WriteString(p)
		b.WriteByte('.')
	}
	b.WriteString(cut(name))
	k := UnknownKey{Path: b.String(), Value: strings.Clone(cut(value))}
	if _, ok := d.unknown[k]; !ok && len(d.unknown) >= maxUnknownKinds-1 {
		k = OtherUnknown
	}
	d.unknown[k]++
	if d.elem >= 0 {
		if d.records == nil {
			d.records = map[int]Unknown{}
		}
		u := d.records[d.elem]
		if u == nil {
			u = Unknown{}
			d.records[d.elem] = u
		}
		u[k]++
	}
}

func cut(s string) string {
	if len(s) <= maxUnknownName {
		return s
	}
	n := maxUnknownName
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// Decode decodes the JSON object in s into m, which must be empty and of
// p's message type. It returns how many unknown fields (and unknown enum
// names) it ignored; errors are *SyntaxError. Strings without escapes are
// substrings of s, so m keeps s alive.
func (p *Plan) Decode(s string, m protoreflect.Message) (unknown int, err error) {
	d, err := p.decode(s, m)
	return d.unknown.Total(), err
}

// DecodeUnknown is Decode that says what it ignored, by field path and
// enum value: in all, and inside each element of a list field of the
// top-level object that has any, by the element's index (a list page's
// records: a listing that drops a record, one key paging repeats from the
// page before or one delivered before, drops what it ignored with it).
func (p *Plan) DecodeUnknown(s string, m protoreflect.Message) (all Unknown, records map[int]Unknown, err error) {
	u, err := p.decode(s, m)
	return u.unknown, u.records, err
}

func (p *Plan) decode(s string, m protoreflect.Message) (*decoder, error) {
	if m.Descriptor() != p.md {
		return &decoder{}, fmt.Errorf("pagejson: decoding %s with the plan of %s", m.Descriptor().FullName(), p.md.FullName())
	}
	d := decoder{s: s, elem: -1}
	d.ws()
	var ptr unsafe.Pointer
	if p.direct && reflect.TypeOf(m.Interface()) == reflect.PointerTo(p.goType) {
		// Only the generated type has the layout the plan was built for:
		// another implementation of the same descriptor (dynamicpb) goes
		// through protoreflect.
		ptr = reflect.ValueOf(m.Interface()).UnsafePointer()
	}
	if err := d.message(m, ptr, p, recursionLimit); err != nil {
		return &d, err
	}
	d.ws()
	if d.i < len(d.s) {
		return &d, d.errorf(d.i, "found %s after the top-level object", d.tokenAt(d.i))
	}
	return &d, nil
}

// message decodes one object into m, or, when ptr is not nil, directly into
// the generated struct at ptr (then m is unused). budget is the nesting
// left, counted the way protojson counts it.
func (d *decoder) message(m protoreflect.Message, ptr unsafe.Pointer, p *Plan, budget int) error {
	budget--
	if budget < 0 {
		return d.errorf(d.i, "nested deeper than %d", recursionLimit)
	}
	if empty, err := d.open('{', "an object"); err != nil || empty {
		return err
	}
	var seen slotSet
	if p.slots > 64 {
		seen.big = make([]uint64, (p.slots+63)/64)
	}
	next := 0 // the field expected next: a string compare saves a map lookup
	for {
		at := d.i
		name, err := d.fieldName()
		if err != nil {
			return err
		}
		var f *fieldPlan
		if next < len(p.order) && p.order[next].json == name {
			f = p.order[next]
		} else {
			f = p.byName[name]
		}
		if f != nil {
			next = f.slot + 1
		}
		switch {
		case f == nil:
			// Apigee adds fields over time: ignore them, but count them
			// by name so that an export can say which it dropped.
			d.ignore(name, "")
			if err := d.skip(budget); err != nil {
				return within(err, unknownField)
			}
		case seen.testAndSet(f.slot):
			return d.errorf(at, "duplicate field %q", name)
		case d.literal("null"):
			// null means "not set" (protojson does the same).
		case f.list:
			d.enter(f)
			if err := d.list(m, ptr, f, budget); err != nil {
				return within(err, f.json)
			}
			d.leave(f)
		default:
			if f.oneof >= 0 && seen.testAndSet(f.oneof) {
				return d.errorf(at, "field %q: oneof %s is already set", name, f.fd.ContainingOneof().Name())
			}
			d.enter(f)
			if err := d.singular(m, ptr, f, budget); err != nil {
				return within(err, f.json)
			}
			d.leave(f)
		}
		if more, ok := d.next('}'); !ok {
			return d.unexpected(`"," or "}" after a field`)
		} else if !more {
			return nil
		}
	}
}

// enter and leave keep the path of message fields for naming unknown
// fields; scalar fields are named by ignore itself.
func (d *decoder) enter(f *fieldPlan) {
	if f.kind == protoreflect.MessageKind {
		d.path = append(d.path, f.json)
	}
}

func (d *decoder) leave(f *fieldPlan) {
	if f.kind == protoreflect.MessageKind {
		d.path = d.path[:len(d.path)-1]
	}
}

func (d *decoder) singular(m protoreflect.Message, ptr unsafe.Pointer, f *fieldPlan, budget int) error {
	if f.kind == protoreflect.MessageKind {
		if ptr != nil {
			sub := reflect.New(f.msg.goType).UnsafePointer()
			*(*unsafe.Pointer)(unsafe.Add(ptr, f.off)) = sub
			return d.message(nil, sub, f.msg, budget)
		}
		return d.message(m.Mutable(f.fd).Message(), nil, f.msg, budget)
	}
	v, ok, err := d.scalar(f)
	if err != nil || !ok {
		return err
	}
	if ptr != nil {
		d.setDirect(unsafe.Add(ptr, f.off), f, v)
	} else {
		m.Set(f.fd, v)
	}
	return nil
}

func (d *decoder) list(m protoreflect.Message, ptr unsafe.Pointer, f *fieldPlan, budget int) error {
	if empty, err := d.open('[', "an array for repeated field "+f.fd.JSONName()); err != nil || empty {
		return err
	}
	var l protoreflect.List
	if ptr == nil {
		l = m.Mutable(f.fd).List()
	}
	top := len(d.path) == 1 && f.kind == protoreflect.MessageKind
	for n := 0; ; n++ {
		if top {
			d.elem = n
		}
		switch {
		case ptr != nil && f.kind == protoreflect.MessageKind:
			e := reflect.New(f.msg.goType).UnsafePointer()
			if err := d.message(nil, e, f.msg, budget); err != nil {
				return within(err, index(n))
			}
			// []*T has the layout of []unsafe.Pointer.
			sl := (*[]unsafe.Pointer)(unsafe.Add(ptr, f.off))
			*sl = append(*sl, e)
		case ptr != nil:
			v, ok, err := d.scalar(f)
			if err != nil {
				return within(err, index(n))
			}
			if ok {
				d.setDirect(unsafe.Add(ptr, f.off), f, v)
			}
		case f.kind == protoreflect.MessageKind:
			e := l.NewElement()
			if err := d.message(e.Message(), nil, f.msg, budget); err != nil {
				return within(err, index(n))
			}
			l.Append(e)
		default:
			v, ok, err := d.scalar(f)
			if err != nil {
				return within(err, index(n))
			}
			if ok {
				l.Append(v)
			}
		}
		if more, ok := d.next(']'); !ok {
			return d.unexpected(`"," or "]" in an array`)
		} else if !more {
			if top {
				d.elem = -1
			}
			return nil
		}
	}
}

func index(n int) string { return "[" + strconv.Itoa(n) + "]" }

// scalar decodes a non-message value of field f. ok is false for an
// unknown enum name, which is ignored like an unknown field.
func (d *decoder) scalar(f *fieldPlan) (v protoreflect.Value, ok bool, err error) {
	at := d.i
	if at >= len(d.s) {
		return v, false, d.eof()
	}
	switch f.kind {
	case protoreflect.StringKind:
		if d.s[at] == '"' {
			s, err := d.str()
			return protoreflect.ValueOfString(s), err == nil, err
		}
	case protoreflect.BoolKind:
		if d.literal("true") {
			return protoreflect.ValueOfBool(true), true, nil
		}
		if d.literal("false") {
			return protoreflect.ValueOfBool(false), true, nil
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, ok, err := d.integer(64, false)
		if err != nil || ok {
			return protoreflect.ValueOfInt64(n), ok, err
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, ok, err := d.integer(32, false)
		if err != nil || ok {
			return protoreflect.ValueOfInt32(int32(n)), ok, err
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, ok, err := d.integer(64, true)
		if err != nil || ok {
			return protoreflect.ValueOfUint64(uint64(n)), ok, err
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, ok, err := d.integer(32, true)
		if err != nil || ok {
			return protoreflect.ValueOfUint32(uint32(n)), ok, err
		}
	case protoreflect.EnumKind:
		switch c := d.s[at]; {
		case c == '"':
			name, err := d.str()
			if err != nil {
				return v, false, err
			}
			if ev := f.enum.ByName(protoreflect.Name(name)); ev != nil {
				return protoreflect.ValueOfEnum(ev.Number()), true, nil
			}
			d.ignore(f.json, name) // a value added after these protos were generated
			return v, false, nil
		case c == '-' || isDigit(c):
			end, err := d.number(at)
			if err != nil {
				return v, false, err
			}
			if n, ok := parseInt(d.s[at:end], 32, false); ok {
				d.i = end
				return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), true, nil
			}
		}
	}
	// Report what the value is, as protojson does, unless it is not even
	// valid JSON.
	if err := d.skip(recursionLimit); err != nil {
		return v, false, err
	}
	return v, false, d.errorf(at, "invalid %v value: found %s", f.kind, d.tokenAt(at))
}

// integer decodes an integer given as a JSON number or as a string holding
// one (how Apigee sends int64). ok is false when the value is neither.
func (d *decoder) integer(bits int, unsigned bool) (n int64, ok bool, err error) {
	at := d.i
	switch c := d.s[at]; {
	case c == '"':
		s, err := d.str()
		if err != nil {
			return 0, false, err
		}
		// protojson reads the string's content as one JSON number with
		// nothing around it, not even spaces.
		if end, err := scanNumber(s, 0); err == nil && end == len(s) {
			if n, ok := parseInt(s, bits, unsigned); ok {
				return n, true, nil
			}
		}
		d.i = at
		return 0, false, nil
	case c == '-' || isDigit(c):
		end, err := d.number(at)
		if err != nil {
			return 0, false, err
		}
		if n, ok := parseInt(d.s[at:end], bits, unsigned); ok {
			d.i = end
			return n, true, nil
		}
	}
	return 0, false, nil
}

// slotSet records the fields (and oneofs) an object has set, to reject
// duplicates as protojson does.
type slotSet struct {
	small uint64
	big   []uint64
}

func (s *slotSet) testAndSet(i int) bool {
	if s.big == nil {
		bit := uint64(1) << uint(i)
		had := s.small&bit != 0
		s.small |= bit
		return had
	}
	w, bit := i/64, uint64(1)<<uint(i%64)
	had := s.big[w]&bit != 0
	s.big[w] |= bit
	return had
}
