package testrecords

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/structpb"    // registers struct.proto for the resolver
	_ "google.golang.org/protobuf/types/known/timestamppb" // registers timestamp.proto
)

// appsJSON holds records shaped like Apigee's apps list (JSON names,
// int64 timestamps as strings, credentials with product references and
// attributes), as a JSON array of protojson objects.
//
//go:embed testdata/apps.json
var appsJSON []byte

// appProto describes the records of apps.json, plus an Event message whose
// fields are well-known types (Timestamp, Struct), which protojson writes
// specially. It is built at run time, like a descriptor the exporter might
// learn from a newer API, so the encoders are tested on dynamicpb messages
// as well as generated ones.
const appProto = `
name: "pubexport/formats/test/dynamic.proto"
package: "pubexport.formats.dynamic"
syntax: "proto3"
dependency: "google/protobuf/struct.proto"
dependency: "google/protobuf/timestamp.proto"
message_type {
  name: "Attribute"
  field { name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING proto3_optional: true oneof_index: 0 json_name: "name" }
  field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING proto3_optional: true oneof_index: 1 json_name: "value" }
  oneof_decl { name: "_name" }
  oneof_decl { name: "_value" }
}
message_type {
  name: "ProductRef"
  field { name: "apiproduct" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "apiproduct" }
  field { name: "status" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "status" }
}
message_type {
  name: "Credential"
  field { name: "api_products" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".pubexport.formats.dynamic.ProductRef" json_name: "apiProducts" }
  field { name: "attributes" number: 2 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".pubexport.formats.dynamic.Attribute" json_name: "attributes" }
  field { name: "consumer_key" number: 3 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "consumerKey" }
  field { name: "consumer_secret" number: 4 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "consumerSecret" }
  field { name: "expires_at" number: 5 label: LABEL_OPTIONAL type: TYPE_INT64 json_name: "expiresAt" }
  field { name: "issued_at" number: 6 label: LABEL_OPTIONAL type: TYPE_INT64 json_name: "issuedAt" }
  field { name: "scopes" number: 7 label: LABEL_REPEATED type: TYPE_STRING json_name: "scopes" }
  field { name: "status" number: 8 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "status" }
}
message_type {
  name: "App"
  field { name: "api_products" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".pubexport.formats.dynamic.ProductRef" json_name: "apiProducts" }
  field { name: "app_id" number: 3 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "appId" }
  field { name: "attributes" number: 4 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".pubexport.formats.dynamic.Attribute" json_name: "attributes" }
  field { name: "callback_url" number: 5 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "callbackUrl" }
  field { name: "created_at" number: 7 label: LABEL_OPTIONAL type: TYPE_INT64 json_name: "createdAt" }
  field { name: "credentials" number: 8 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".pubexport.formats.dynamic.Credential" json_name: "credentials" }
  field { name: "developer_id" number: 10 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "developerId" }
  field { name: "key_expires_in" number: 11 label: LABEL_OPTIONAL type: TYPE_INT64 json_name: "keyExpiresIn" }
  field { name: "last_modified_at" number: 12 label: LABEL_OPTIONAL type: TYPE_INT64 json_name: "lastModifiedAt" }
  field { name: "name" number: 13 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "name" }
  field { name: "scopes" number: 14 label: LABEL_REPEATED type: TYPE_STRING json_name: "scopes" }
  field { name: "status" number: 15 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "status" }
}
message_type {
  name: "Event"
  field { name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "name" }
  field { name: "at" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" json_name: "at" }
  field { name: "details" number: 3 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Struct" json_name: "details" }
  field { name: "history" number: 4 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" json_name: "history" }
  field { name: "parent" number: 5 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".pubexport.formats.dynamic.Event" json_name: "parent" }
}
`

// Files builds the dynamic file descriptor.
func Files() (protoreflect.FileDescriptor, error) {
	var fdp descriptorpb.FileDescriptorProto
	if err := parseText(appProto, &fdp); err != nil {
		return nil, err
	}
	return protodesc.NewFile(&fdp, protoregistry.GlobalFiles)
}

// Descriptor returns the named message ("App", "Event", ...) of Files.
func Descriptor(name string) (protoreflect.MessageDescriptor, error) {
	fd, err := Files()
	if err != nil {
		return nil, err
	}
	md := fd.Messages().ByName(protoreflect.Name(name))
	if md == nil {
		return nil, fmt.Errorf("testrecords: no message %s", name)
	}
	return md, nil
}

// Apps decodes testdata/apps.json into dynamic App messages.
func Apps() ([]proto.Message, protoreflect.MessageDescriptor, error) {
	md, err := Descriptor("App")
	if err != nil {
		return nil, nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(appsJSON, &raw); err != nil {
		return nil, nil, fmt.Errorf("testrecords: apps.json: %w", err)
	}
	out := make([]proto.Message, len(raw))
	for i, r := range raw {
		m := dynamicpb.NewMessage(md)
		if err := protojson.Unmarshal(r, m); err != nil {
			return nil, nil, fmt.Errorf("testrecords: apps.json record %d: %w", i, err)
		}
		out[i] = m
	}
	return out, md, nil
}

// Events returns dynamic Event messages with well-known-type and recursive
// fields.
func Events() ([]proto.Message, protoreflect.MessageDescriptor, error) {
	md, err := Descriptor("Event")
	if err != nil {
		return nil, nil, err
	}
	records := []string{
		`{"name":"created","at":"2024-01-02T03:04:05.123Z","details":{"by":"ops","n":3,"tags":["a","b"],"nested":{"ok":true,"none":null}},"history":["2023-12-31T23:59:59Z","2024-01-01T00:00:00.000000001Z"],"parent":{"name":"root","at":"1970-01-01T00:00:00Z"}}`,
		`{}`,
		`{"name":"only name","details":{}}`,
	}
	out := make([]proto.Message, len(records))
	for i, r := range records {
		m := dynamicpb.NewMessage(md)
		if err := protojson.Unmarshal([]byte(r), m); err != nil {
			return nil, nil, fmt.Errorf("testrecords: event %d: %w", i, err)
		}
		out[i] = m
	}
	return out, md, nil
}
