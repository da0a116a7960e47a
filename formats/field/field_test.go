package field_test

import (
	"errors"
	"fmt"
	"testing"

	"pubexport/formats/field"
)

func TestErrorNamesTheField(t *testing.T) {
	cause := errors.New("HTTP 404")
	e := &field.Error{Field: field.Organization, Value: "nosuch", Problem: `"nosuch" not found`, Valid: "check the name", Err: cause}
	if got, want := e.Error(), `organization: "nosuch" not found; check the name (HTTP 404)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := e.Named("--org"), `--org: "nosuch" not found; check the name (HTTP 404)`; got != want {
		t.Errorf("Named = %q, want %q", got, want)
	}
	var fe *field.Error
	wrapped := fmt.Errorf("checking: %w", e)
	if !errors.As(wrapped, &fe) || fe.Value != "nosuch" || !errors.Is(wrapped, cause) {
		t.Errorf("the field error or its cause is lost in %v", wrapped)
	}
	if got := (&field.Error{Field: field.Format, Problem: "missing"}).Description(); got != "missing" {
		t.Errorf("Description() without Valid = %q", got)
	}
}
