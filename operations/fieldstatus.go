package operations

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"pubexport/formats/field"
)

// requestField is the ExportRequest field that carries the value a library
// names (package field). The libraries use the request's names, except for
// the organization, which the request gives as parent.
func requestField(name string) string {
	if name == field.Organization {
		return "parent"
	}
	return name
}

// ErrorStatus is err's status as an API caller sees it: its code and
// message and, when a library refused a value of the request (err wraps a
// *field.Error), a google.rpc.BadRequest detail naming the request field,
// so that a client can point at it. A status with details keeps its own.
func ErrorStatus(err error) *status.Status {
	st := status.Convert(err)
	var fe *field.Error
	if len(st.Details()) > 0 || !errors.As(err, &fe) {
		return st
	}
	d, derr := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: requestField(fe.Field), Description: fe.Description()}},
	})
	if derr != nil {
		return st
	}
	return d
}
