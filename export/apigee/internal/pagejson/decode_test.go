package pagejson

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"

	"pubexport/export/apigee/apigeepb"
)

// The decoder's behaviour on real pages is held to protojson by the
// differential tests and fuzzers of export/apigee, on both of its paths
// (direct stores and protoreflect). The tests here cover what those pages
// cannot reach: message types the decoder refuses, and types without
// generated code.

// testFile declares, without generated Go code, a message of the kinds
// the decoder supports and messages with kinds it refuses.
func testFile(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	field := func(name string, n int32, label *descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Label: label, Type: typ.Enum(), JsonName: proto.String(name)}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("pagejson_test.proto"),
		Package: proto.String("pagejsontest"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Item"), Field: []*descriptorpb.FieldDescriptorProto{
				field("name", 1, opt, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				field("size", 2, opt, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
				field("ok", 3, opt, descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""),
				field("tags", 4, rep, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				field("parts", 5, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".pagejsontest.Item"),
			}},
			{Name: proto.String("WithFloat"), Field: []*descriptorpb.FieldDescriptorProto{
				field("f", 1, opt, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, ""),
			}},
			{Name: proto.String("WithBytes"), Field: []*descriptorpb.FieldDescriptorProto{
				field("b", 1, opt, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
			}},
		},
	}
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCompileRefuses: types whose JSON forms the decoder does not
// implement are refused when the plan is built, never mis-decoded.
func TestCompileRefuses(t *testing.T) {
	msgs := testFile(t).Messages()
	for _, md := range []protoreflect.MessageDescriptor{
		msgs.ByName("WithFloat"),
		msgs.ByName("WithBytes"),
		(&structpb.Struct{}).ProtoReflect().Descriptor(),
	} {
		if _, err := Compile(md); err == nil {
			t.Errorf("Compile(%s) succeeded, want an error", md.FullName())
		}
	}
}

// TestDecodeWithoutGeneratedCode: a type with no Go struct takes the
// protoreflect path and decodes as protojson does, including a recursive
// field, unknown fields and nulls.
func TestDecodeWithoutGeneratedCode(t *testing.T) {
	md := testFile(t).Messages().ByName("Item")
	p, err := Compile(md)
	if err != nil {
		t.Fatal(err)
	}
	if p.Direct() {
		t.Fatal("a type without generated code claims the direct path")
	}
	for _, in := range []string{
		`{}`,
		`{"name":"a\u0040b","size":"12","ok":true,"tags":["x","y"],"parts":[{"name":"p","parts":[{"size":3}]}]}`,
		` {"size":1e3, "extra":{"k":[1,null]}, "tags":null, "name":null} `,
	} {
		got := dynamicpb.NewMessage(md)
		if _, err := p.Decode(in, got); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		want := dynamicpb.NewMessage(md)
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(in), want); err != nil {
			t.Fatalf("%s: protojson: %v", in, err)
		}
		if !proto.Equal(got.Interface(), want.Interface()) {
			t.Errorf("%s: decoded %v, protojson %v", in, got, want)
		}
	}
	for _, in := range []string{`{"size":"x"}`, `{"name":"a","name":"b"}`, `{"parts":[{"ok":1}]}`} {
		_, err := p.Decode(in, dynamicpb.NewMessage(md))
		if _, ok := err.(*SyntaxError); !ok {
			t.Errorf("%s: got %v, want a *SyntaxError", in, err)
		}
	}
}

// TestDecodeWrongType: a plan decodes only its own message type.
func TestDecodeWrongType(t *testing.T) {
	p, err := Compile((&apigeepb.ListOfDevelopersResponse{}).ProtoReflect().Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Direct() {
		t.Error("a generated page type does not take the direct path")
	}
	_, err = p.Decode(`{}`, (&apigeepb.ListAppsResponse{}).ProtoReflect())
	if err == nil || !strings.Contains(err.Error(), "ListAppsResponse") {
		t.Fatalf("decoding another type: got %v", err)
	}
}
