package testrecords

import (
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// parseText parses a descriptor written in the protobuf text format,
// which is far easier to read in source than nested Go literals.
func parseText(s string, m proto.Message) error {
	return prototext.Unmarshal([]byte(s), m)
}
