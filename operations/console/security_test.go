package console_test

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
	"pubexport/operations/server"
)

// exportDone runs an export of org's resource through the manager and
// waits for it to succeed; it returns the operation's name.
func exportDone(t *testing.T, e *env, org, resource string) string {
	t.Helper()
	op, err := e.m.Start(t.Context(), &operationspb.ExportRequest{
		Parent: "organizations/" + org, Resource: resource, Destination: "file://" + e.dest, ApigeeUrl: e.emu.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	op, err = e.m.Wait(t.Context(), op.GetName(), 20*time.Second)
	if err != nil || !op.GetDone() || op.GetError() != nil {
		t.Fatalf("export %s: %v %v", op.GetName(), op.GetError(), err)
	}
	return op.GetName()
}

func objectsOf(t *testing.T, op *longrunningpb.Operation) []*operationspb.ExportObject {
	t.Helper()
	var resp operationspb.ExportResponse
	if err := op.GetResponse().UnmarshalTo(&resp); err != nil {
		t.Fatal(err)
	}
	return append(resp.GetObjects(), resp.GetManifest())
}

// TestBrowserEscapesOperationFields stores an operation whose every text
// field is markup (as a buggy or hostile writer of the shared store could)
// and checks that the console shows it as text and runs none of it.
func TestBrowserEscapesOperationFields(t *testing.T) {
	t.Parallel()
	e := startEnv(t, server.NoAuth())
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	name := "organizations/acme/operations/" + id.String()
	md, err := anypb.New(&apigeepb.OperationMetadata{
		State:              apigeepb.OperationMetadata_FINISHED.Enum(),
		TargetResourceName: proto.String("organizations/acme/apps"),
		Warnings:           []string{"warning " + evil},
		Progress: &apigeepb.OperationMetadataProgress{
			Description: proto.String("description " + evil),
			State:       apigeepb.OperationMetadataProgress_FINISHED.Enum(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	op, err := anypb.New(&longrunningpb.Operation{
		Name: name, Metadata: md, Done: true,
		Result: &longrunningpb.Operation_Error{Error: &rpcstatus.Status{Code: 13, Message: "error " + evil}},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := timestamppb.Now()
	if _, err := e.st.Create(t.Context(), &operationspb.OperationRecord{
		Operation: op,
		Request: &operationspb.ExportRequest{
			Parent: "organizations/acme", Resource: "apps", Format: "json", Destination: "file:///tmp/" + evil,
		},
		CreateTime: now, UpdateTime: now, Attempts: 1,
	}); err != nil {
		t.Fatal(err)
	}

	ctx := tab(t)
	do(t, ctx, "open the operations page", chromedp.Navigate(e.url+"/operations"))
	waitFor(t, ctx, "the operation", `document.querySelector('#ops li.op') !== null`)
	do(t, ctx, "open its details", chromedp.Click(chromedp.CSS("#ops li.op details summary")))
	waitFor(t, ctx, "the details", `document.querySelector('#ops li.op dl.facts') !== null`)
	shot(t, ctx, "08-escaped")
	text := eval[string](t, ctx, `document.querySelector('#ops li.op').textContent`)
	for _, want := range []string{"warning " + evil, "description " + evil, "error " + evil, "/tmp/" + evil, "INTERNAL"} {
		if !strings.Contains(text, want) {
			t.Errorf("the operation's item does not show %q as text:\n%s", want, text)
		}
	}
	if n := eval[int](t, ctx, `document.images.length`); n != 1 {
		t.Errorf("%d images on the page, want 1 (the logo): an operation field was rendered as HTML", n)
	}
	// The bell and the panel show the same operation, also as text.
	do(t, ctx, "open the panel", chromedp.Click(chromedp.ID("bell")))
	waitFor(t, ctx, "the panel", `document.querySelector('#panel-list li.op') !== null`)
	if n := eval[int](t, ctx, `document.images.length`); n != 1 {
		t.Errorf("%d images with the panel open, want 1", n)
	}
}

// TestBrowserSignedLinks: an object with a V4 signed URL is linked to it
// directly; a download URL that is not https (a damaged record) is not
// used, the console's own download endpoint is.
func TestBrowserSignedLinks(t *testing.T) {
	t.Parallel()
	e := startEnv(t, server.NoAuth())
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	name := "organizations/acme/operations/" + id.String()
	const signedURL = "https://storage.googleapis.com/acme-exports/ExportFinal_aa.json?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=00"
	resp, err := anypb.New(&operationspb.ExportResponse{
		Objects:  []*operationspb.ExportObject{{Name: "ExportFinal_aa.json", Uri: "gs://acme-exports/ExportFinal_aa.json", Size: 10, DownloadUrl: signedURL}},
		Manifest: &operationspb.ExportObject{Name: "ExportManifest_bb.json", Uri: "gs://acme-exports/ExportManifest_bb.json", Size: 5, DownloadUrl: "javascript:alert(1)"},
	})
	if err != nil {
		t.Fatal(err)
	}
	md, err := anypb.New(&apigeepb.OperationMetadata{State: apigeepb.OperationMetadata_FINISHED.Enum(), TargetResourceName: proto.String("organizations/acme/apps")})
	if err != nil {
		t.Fatal(err)
	}
	op, err := anypb.New(&longrunningpb.Operation{Name: name, Metadata: md, Done: true, Result: &longrunningpb.Operation_Response{Response: resp}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Create(t.Context(), &operationspb.OperationRecord{Operation: op, CreateTime: timestamppb.Now(), UpdateTime: timestamppb.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx := tab(t)
	do(t, ctx, "open the console", chromedp.Navigate(e.url+"/"), chromedp.Click(chromedp.ID("bell")))
	waitFor(t, ctx, "the links", `document.querySelectorAll('#panel-list a.download').length === 2`)
	hrefs := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#panel-list a.download')).map(a => a.href)`)
	if hrefs[0] != signedURL {
		t.Errorf("object link %q, want the signed URL", hrefs[0])
	}
	if !strings.HasPrefix(hrefs[1], e.url+"/v1/console/download?") {
		t.Errorf("manifest link %q, want the console's download endpoint", hrefs[1])
	}
}
