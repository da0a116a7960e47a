package json

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wellKnown lists the types protojson writes in a special form rather than
// as an object of their fields.
var wellKnown = map[protoreflect.FullName]bool{
	"google.protobuf.Any":         true,
	"google.protobuf.Timestamp":   true,
	"google.protobuf.Duration":    true,
	"google.protobuf.BoolValue":   true,
	"google.protobuf.Int32Value":  true,
	"google.protobuf.Int64Value":  true,
	"google.protobuf.UInt32Value": true,
	"google.protobuf.UInt64Value": true,
	"google.protobuf.FloatValue":  true,
	"google.protobuf.DoubleValue": true,
	"google.protobuf.StringValue": true,
	"google.protobuf.BytesValue":  true,
	"google.protobuf.Struct":      true,
	"google.protobuf.ListValue":   true,
	"google.protobuf.Value":       true,
	"google.protobuf.FieldMask":   true,
	"google.protobuf.Empty":       true,
}

// delegatedToProtojson reports whether messages of type md are encoded by
// protojson itself. Besides the well-known types, that is any type that can
// carry extensions (proto2), which protojson writes as "[full.name]" keys:
// rare enough that correctness beats speed there.
func delegatedToProtojson(md protoreflect.MessageDescriptor) bool {
	return wellKnown[md.FullName()] || md.ExtensionRanges().Len() > 0
}

// appendProtojson appends protojson's encoding of m with the optional
// whitespace removed. protojson inserts random spaces to keep callers from
// depending on its bytes; removing them gives the canonical compact form,
// which is what the rest of this package writes.
func appendProtojson(b []byte, m protoreflect.Message) ([]byte, error) {
	start := len(b)
	b, err := protojson.MarshalOptions{}.MarshalAppend(b, m.Interface())
	if err != nil {
		return b[:start], fmt.Errorf("%s: %w", m.Descriptor().FullName(), err)
	}
	return compact(b, start), nil
}

// compact removes the whitespace outside strings from b[start:], in place.
func compact(b []byte, start int) []byte {
	w := start
	inString, escaped := false, false
	for _, c := range b[start:] {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		b[w] = c
		w++
	}
	return b[:w]
}
