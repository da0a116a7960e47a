package apigeepb_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/structpb"

	"pubexport/export/apigee/apigeepb"
)

// discoveryFile is a verbatim subset of Apigee's v1 discovery document: the
// authority the protos in this package mirror.
var discoveryFile = filepath.Join("..", "..", "..", "testdata", "apigee-v1-discovery-subset.json")

type discoverySchema struct {
	Properties map[string]discoveryProperty `json:"properties"`
}

type discoveryProperty struct {
	Type   string             `json:"type"`
	Format string             `json:"format"`
	Ref    string             `json:"$ref"`
	Enum   []string           `json:"enum"`
	Items  *discoveryProperty `json:"items"`
}

const schemaPrefix = "GoogleCloudApigeeV1"

// TestProtosCoverDiscovery proves that every property of every Apigee schema
// in the discovery document exists in the protos with the same JSON name and a
// matching type, and that the protos add nothing Apigee does not have.
func TestProtosCoverDiscovery(t *testing.T) {
	raw, err := os.ReadFile(discoveryFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schemas map[string]discoverySchema `json:"schemas"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// Make sure both files of the package are linked in.
	_ = apigeepb.File_export_apigee_apigeepb_resources_proto
	_ = apigeepb.File_export_apigee_apigeepb_operation_metadata_proto

	checked := 0
	for schemaName, schema := range doc.Schemas {
		if !strings.HasPrefix(schemaName, schemaPrefix) {
			continue // google.longrunning and google.rpc come from their own packages
		}
		msgName := protoreflect.FullName("google.cloud.apigee.v1." + strings.TrimPrefix(schemaName, schemaPrefix))
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(msgName)
		if err != nil {
			t.Errorf("schema %s: no message %s in the protos", schemaName, msgName)
			continue
		}
		md := d.(protoreflect.MessageDescriptor)
		if got, want := md.Fields().Len(), len(schema.Properties); got != want {
			t.Errorf("%s: the proto has %d fields, discovery has %d properties", msgName, got, want)
		}
		for prop, p := range schema.Properties {
			fd := md.Fields().ByJSONName(prop)
			if fd == nil {
				t.Errorf("%s: property %q is missing from the proto", msgName, prop)
				continue
			}
			checkType(t, msgName, prop, p, fd)
			checked++
		}
	}
	if checked < 130 {
		t.Fatalf("checked only %d properties; the discovery file looks truncated", checked)
	}
}

func checkType(t *testing.T, msg protoreflect.FullName, prop string, p discoveryProperty, fd protoreflect.FieldDescriptor) {
	t.Helper()
	if p.Type == "array" {
		if !fd.IsList() {
			t.Errorf("%s.%s: discovery has an array, the proto field is not repeated", msg, prop)
			return
		}
		checkScalarOrRef(t, msg, prop, *p.Items, fd)
		return
	}
	if fd.IsList() || fd.IsMap() {
		t.Errorf("%s.%s: proto field is repeated, discovery has %q", msg, prop, p.Type)
		return
	}
	checkScalarOrRef(t, msg, prop, p, fd)
}

func checkScalarOrRef(t *testing.T, msg protoreflect.FullName, prop string, p discoveryProperty, fd protoreflect.FieldDescriptor) {
	t.Helper()
	bad := func(want string) {
		t.Errorf("%s.%s: discovery type %q/%q/%q wants %s, proto has %v", msg, prop, p.Type, p.Format, p.Ref, want, fd.Kind())
	}
	switch {
	case p.Ref != "":
		want := protoreflect.FullName("google.cloud.apigee.v1." + strings.TrimPrefix(p.Ref, schemaPrefix))
		if fd.Kind() != protoreflect.MessageKind || fd.Message().FullName() != want {
			bad(string(want))
		}
	case p.Type == "object":
		if fd.Kind() != protoreflect.MessageKind || fd.Message().FullName() != (&structpb.Struct{}).ProtoReflect().Descriptor().FullName() {
			bad("google.protobuf.Struct")
		}
	case len(p.Enum) > 0:
		if fd.Kind() != protoreflect.EnumKind {
			bad("an enum")
			return
		}
		values := fd.Enum().Values()
		if values.Len() != len(p.Enum) {
			t.Errorf("%s.%s: enum has %d values, discovery has %d", msg, prop, values.Len(), len(p.Enum))
		}
		for _, v := range p.Enum {
			if values.ByName(protoreflect.Name(v)) == nil {
				t.Errorf("%s.%s: enum value %s is missing", msg, prop, v)
			}
		}
	case p.Type == "string" && p.Format == "int64":
		if fd.Kind() != protoreflect.Int64Kind {
			bad("int64")
		}
	case p.Type == "string":
		if fd.Kind() != protoreflect.StringKind {
			bad("string")
		}
	case p.Type == "integer" && p.Format == "int32":
		if fd.Kind() != protoreflect.Int32Kind {
			bad("int32")
		}
	case p.Type == "boolean":
		if fd.Kind() != protoreflect.BoolKind {
			bad("bool")
		}
	default:
		t.Errorf("%s.%s: discovery type %q/%q is not handled by this test", msg, prop, p.Type, p.Format)
	}
}
