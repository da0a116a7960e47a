package server

import (
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// restFieldNames is err as a REST caller should read it: the request
// fields it names in their JSON names (apigeeUrl), as a REST body writes
// them, instead of the proto names (apigee_url) that the gRPC service and
// the libraries below it use. It renames the fields of a
// google.rpc.BadRequest detail and a field that starts the message
// ("apigee_url: ..."); any other text is left alone. md is the request
// message of the method that answered err.
func restFieldNames(err error, md protoreflect.MessageDescriptor) error {
	st := status.Convert(err)
	p := st.Proto() // a copy
	changed := false
	for i, d := range p.GetDetails() {
		var br errdetails.BadRequest
		if !d.MessageIs(&br) || d.UnmarshalTo(&br) != nil {
			continue
		}
		renamed := false
		for _, v := range br.GetFieldViolations() {
			if j := jsonPath(md, v.GetField()); j != v.GetField() {
				v.Field, renamed = j, true
			}
		}
		if !renamed {
			continue
		}
		if a, err := anypb.New(&br); err == nil {
			p.Details[i], changed = a, true
		}
	}
	if f, rest, ok := strings.Cut(p.GetMessage(), ": "); ok {
		if j := jsonPath(md, f); j != f {
			p.Message, changed = j+": "+rest, true
		}
	}
	if !changed {
		return err
	}
	var he *httpError
	if errors.As(err, &he) {
		return &httpError{status: he.status, st: status.FromProto(p)}
	}
	return status.FromProto(p).Err()
}

// jsonPath is the dotted proto field path of md ("csv.delimiter",
// "max_object_size") in JSON names, or path itself when it is not one.
func jsonPath(md protoreflect.MessageDescriptor, path string) string {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		if md == nil {
			return path
		}
		fd := md.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			return path
		}
		parts[i] = fd.JSONName()
		md = fd.Message()
	}
	return strings.Join(parts, ".")
}
