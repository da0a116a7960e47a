package notify

import (
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/status"

	"pubexport/operations/operationspb"
)

func TestParseURL(t *testing.T) {
	project, topic, err := ParseURL("pubsub://projects/acme-ops/topics/pubexport.done")
	if err != nil || project != "acme-ops" || topic != "projects/acme-ops/topics/pubexport.done" {
		t.Errorf("ParseURL = %q, %q, %v", project, topic, err)
	}
	for _, bad := range []string{
		"projects/acme-ops/topics/t1x",
		"pubsub://acme-ops/exports",
		"pubsub://projects/acme-ops/topics/",
		"pubsub://projects/acme-ops/topics/goog-x",
		"pubsub://projects/acme-ops/subscriptions/s1x",
	} {
		if _, _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}

func TestMessageAttributes(t *testing.T) {
	req := &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps"}
	for _, c := range []struct {
		op          *longrunningpb.Operation
		state, code string
	}{
		{&longrunningpb.Operation{Name: "organizations/acme/operations/a", Done: true}, Succeeded, ""},
		{&longrunningpb.Operation{Name: "organizations/acme/operations/b", Done: true, Result: &longrunningpb.Operation_Error{Error: &status.Status{Code: 1}}}, Cancelled, "CANCELLED"},
		{&longrunningpb.Operation{Name: "organizations/acme/operations/c", Done: true, Result: &longrunningpb.Operation_Error{Error: &status.Status{Code: 7}}}, Failed, "PERMISSION_DENIED"},
	} {
		m, err := Message(c.op, req)
		if err != nil {
			t.Fatal(err)
		}
		a := m.Attributes
		if a[AttrState] != c.state || a[AttrErrorCode] != c.code || a[AttrOrganization] != "acme" || a[AttrResource] != "apps" || a[AttrOperation] != c.op.GetName() {
			t.Errorf("%s: attributes %v", c.op.GetName(), a)
		}
	}
}
