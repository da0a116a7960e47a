// Package protoscalar produces protojson's text for scalar values, shared
// by the JSON, CSV and Parquet encoders so that a value reads the same in
// every format: int64 in decimal, enums by name, bytes in standard base64,
// floats exactly as protojson prints them (NaN, Infinity, -Infinity).
//
// The rules are copied from google.golang.org/protobuf/internal/encoding/json,
// which is internal and so cannot be called; tests compare against
// protojson.Marshal to keep them in step.
package protoscalar

import (
	"encoding/base64"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// AppendFloat appends protojson's text for a float of the given bit size
// (32 or 64), without JSON quotes: NaN, Infinity and -Infinity as words,
// otherwise the shortest decimal that round-trips, switching to exponent
// form below 1e-6 and from 1e21 like encoding/json.
func AppendFloat(b []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bitSize)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json and protojson do.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// IsFloatWord reports whether f prints as a word (NaN, ±Infinity), which
// JSON must quote.
func IsFloatWord(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }

// EnumName is protojson's text for enum number n of ed: the name of the
// first value declared with that number, or the number in decimal when ed
// has no such value (an enum from a newer schema).
func EnumName(ed protoreflect.EnumDescriptor, n protoreflect.EnumNumber) string {
	if v := ed.Values().ByNumber(n); v != nil {
		return string(v.Name())
	}
	return strconv.FormatInt(int64(n), 10)
}

// AppendBytes appends b64 as protojson writes bytes: standard base64 with
// padding.
func AppendBytes(b, data []byte) []byte {
	return base64.StdEncoding.AppendEncode(b, data)
}

// AppendText appends the unquoted protojson text of scalar value v of field
// fd (a string as itself). It reports false, appending nothing, when v is a
// string that is not valid UTF-8, which protojson refuses to write.
// Message, list and map values are not scalars and report false.
func AppendText(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		s := v.String()
		if !utf8.ValidString(s) {
			return b, false
		}
		return append(b, s...), true
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(b, v.Int(), 10), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(b, v.Uint(), 10), true
	case protoreflect.FloatKind:
		return AppendFloat(b, v.Float(), 32), true
	case protoreflect.DoubleKind:
		return AppendFloat(b, v.Float(), 64), true
	case protoreflect.BytesKind:
		return AppendBytes(b, v.Bytes()), true
	case protoreflect.EnumKind:
		return append(b, EnumName(fd.Enum(), v.Enum())...), true
	}
	return b, false
}

// needsEscape marks the bytes protojson escapes inside a JSON string:
// control characters, the quote and the backslash. Everything else,
// including non-ASCII UTF-8 and U+2028/U+2029, is copied as is.
var needsEscape = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// AppendJSONString appends s as a quoted JSON string escaped exactly as
// protojson escapes it (\b \f \n \r \t \" \\ and \u00XX for other control
// characters). It reports false when s is not valid UTF-8; b then holds a
// partial string that the caller must discard.
func AppendJSONString(b []byte, s string) ([]byte, bool) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			// Validate the multi-byte rune; copy it with the run.
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return b, false
			}
			i += n - 1
			continue
		}
		if !needsEscape[c] {
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\')
		switch c {
		case '"', '\\':
			b = append(b, c)
		case '\b':
			b = append(b, 'b')
		case '\f':
			b = append(b, 'f')
		case '\n':
			b = append(b, 'n')
		case '\r':
			b = append(b, 'r')
		case '\t':
			b = append(b, 't')
		default:
			b = append(b, 'u')
			b = append(b, "0000"[1+(bits.Len32(uint32(c))-1)/4:]...)
			b = strconv.AppendUint(b, uint64(c), 16)
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"'), true
}
