package operations

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/formats/field"
	"pubexport/operations/operationspb"
)

// violation is the field of err's google.rpc.BadRequest detail, "" if none.
func violation(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

// TestSpecErrorsPointAtFields: every refusal of a request names the field
// at fault in its message and in a BadRequest detail, including those the
// libraries make (they name values, not flags).
func TestSpecErrorsPointAtFields(t *testing.T) {
	for _, c := range []struct {
		req   *operationspb.ExportRequest
		field string
	}{
		{&operationspb.ExportRequest{Parent: "organizations/acme", Resource: "users", Destination: "gs://b/p"}, "resource"},
		{&operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps", Format: "xml", Destination: "gs://b/p"}, "format"},
		{&operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps", Destination: "gs://Bad_Bucket!/p"}, "destination"},
		{&operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps", Destination: "s3://b/p"}, "destination"},
		{&operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps", Format: "csv", Destination: "gs://b/p", Csv: &operationspb.CsvOptions{Delimiter: ";"}}, "csv.delimiter"},
	} {
		_, err := Spec(c.req)
		if status.Code(err) != codes.InvalidArgument || violation(err) != c.field {
			t.Errorf("%v: got %v, violation %q; want INVALID_ARGUMENT about %s", c.req, err, violation(err), c.field)
		}
		if msg := status.Convert(err).Message(); len(msg) < len(c.field) || msg[:len(c.field)+1] != c.field+":" {
			t.Errorf("%v: message %q does not start with the field", c.req, msg)
		}
	}
}

// TestErrorStatusNamesRequestField: a *field.Error deep in a failed export's
// error becomes a BadRequest detail naming the request field (parent for
// the organization); other errors keep their status as it is.
func TestErrorStatusNamesRequestField(t *testing.T) {
	fe := &field.Error{Field: field.Organization, Value: "nosuch", Problem: `"nosuch" not found`}
	err := fmt.Errorf("checking organization: %w", fe)
	st := ErrorStatus(err)
	if violation(st.Err()) != "parent" {
		t.Errorf("ErrorStatus(%v) details %v, want a violation of parent", err, st.Details())
	}
	plain := status.Error(codes.Unavailable, "no answer")
	if st := ErrorStatus(plain); st.Code() != codes.Unavailable || len(st.Details()) != 0 {
		t.Errorf("ErrorStatus(%v) = %v", plain, st)
	}
	if violation(ErrorStatus(errors.New("x")).Err()) != "" {
		t.Error("a plain error got a field violation")
	}
}
