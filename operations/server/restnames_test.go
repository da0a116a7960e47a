package server

import (
	"net/http"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/operations/operationspb"
)

// TestRESTFieldNames: a REST answer names request fields as a REST body
// writes them: the field that starts the message and each BadRequest field
// violation in its JSON name; other messages, codes and HTTP statuses are
// kept.
func TestRESTFieldNames(t *testing.T) {
	md := (&operationspb.ExportRequest{}).ProtoReflect().Descriptor()
	withViolation := func(c codes.Code, f, desc string) error {
		st, err := status.New(c, f+": "+desc).WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: f, Description: desc}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	for _, c := range []struct {
		in        error
		code      codes.Code
		msg       string
		violation string
	}{
		{withViolation(codes.PermissionDenied, "apigee_url", "this server exports only from X"), codes.PermissionDenied, "apigeeUrl: this server exports only from X", "apigeeUrl"},
		{withViolation(codes.InvalidArgument, "max_object_size", "too small"), codes.InvalidArgument, "maxObjectSize: too small", "maxObjectSize"},
		{withViolation(codes.InvalidArgument, "csv.delimiter", "not one character"), codes.InvalidArgument, "csv.delimiter: not one character", "csv.delimiter"},
		{withViolation(codes.InvalidArgument, "request_id", "too long"), codes.InvalidArgument, "requestId: too long", "requestId"},
		{status.Error(codes.NotFound, "export of organizations/acme: not found"), codes.NotFound, "export of organizations/acme: not found", ""},
	} {
		got := status.Convert(restFieldNames(c.in, md))
		if got.Code() != c.code || got.Message() != c.msg {
			t.Errorf("%v: got %v %q, want %v %q", c.in, got.Code(), got.Message(), c.code, c.msg)
		}
		var fields []string
		for _, d := range got.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField())
				}
			}
		}
		if want := []string{c.violation}; c.violation != "" && (len(fields) != 1 || fields[0] != c.violation) {
			t.Errorf("%v: field violations %q, want %q", c.in, fields, want)
		}
	}
	he := &httpError{status: http.StatusRequestEntityTooLarge, st: status.New(codes.InvalidArgument, "request_id: too long")}
	if got, ok := restFieldNames(he, md).(*httpError); !ok || got.status != http.StatusRequestEntityTooLarge || got.st.Message() != "requestId: too long" {
		t.Errorf("an httpError became %v", restFieldNames(he, md))
	}
}
