package operations_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/operations"
	"pubexport/operations/operationspb"
)

var small = emulator.GenerateSpec{Developers: 123, Apps: 87, APIProducts: 9, Seed: 3}

// TestLifecycle: Start, Wait, a response whose objects exist with the
// promised hashes, the same operation from another manager (the store),
// List, Delete.
func TestLifecycle(t *testing.T) {
	for _, b := range []backend{local, gcs} {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b, small, emulator.Options{})
			ctx := context.Background()
			m := e.manager("runner-1")
			req := e.request("developers", "ndjson")
			req.Compression = "gzip"
			op, err := m.Start(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(op.GetName(), "organizations/acme/operations/") || op.GetDone() {
				t.Fatalf("Start returned %v", op)
			}
			if md := metadataOf(t, op); md.GetState() == apigeepb.OperationMetadata_FINISHED || md.GetTargetResourceName() != "organizations/acme/developers" {
				t.Fatalf("metadata at start: %v", md)
			}
			done, err := m.Wait(ctx, op.GetName(), 0)
			if err != nil {
				t.Fatal(err)
			}
			resp := e.checkResponse(done, len(e.data.Orgs[0].Developers))
			if !strings.HasSuffix(resp.GetObjects()[0].GetName(), ".ndjson.gz") || resp.GetObjects()[0].GetContentType() != "application/gzip" {
				t.Fatalf("object %v", resp.GetObjects()[0])
			}
			md := metadataOf(t, done)
			p := md.GetProgress()
			if md.GetState() != apigeepb.OperationMetadata_FINISHED || p.GetPercentDone() != 100 ||
				p.GetDescription() != "exported 123 developers in "+itoa(resp.GetPages())+" pages, "+bytesText(resp)+", 1 object published" ||
				p.GetDetails().GetFields()["records"].GetNumberValue() != 123 || p.GetDetails().GetFields()["objects"].GetNumberValue() != 1 {
				t.Fatalf("final metadata: %v", md)
			}
			for _, name := range e.objects() {
				if strings.Contains(name, "staging") {
					t.Fatalf("staging left: %v", e.objects())
				}
			}

			// The store has the same final state: another process sees it.
			other := e.manager("api-server")
			got, err := other.Get(ctx, op.GetName())
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, done) {
				t.Fatalf("stored operation differs from the runner's:\n%v\n%v", got, done)
			}
			rec, _ := e.record(op.GetName())
			if rec.GetLeaseHolder() != "" || len(rec.GetCheckpoint()) != 0 || rec.GetAttempts() != 1 || rec.GetRequest().GetResource() != "developers" {
				t.Fatalf("record after the run: holder %q checkpoint %d bytes attempts %d", rec.GetLeaseHolder(), len(rec.GetCheckpoint()), rec.GetAttempts())
			}

			ops, next, err := other.List(ctx, "organizations/acme", "done=true", 0, "")
			if err != nil || len(ops) != 1 || next != "" || ops[0].GetName() != op.GetName() {
				t.Fatalf("List = %v, %q, %v", ops, next, err)
			}
			if err := other.Delete(ctx, op.GetName()); err != nil {
				t.Fatal(err)
			}
			_, err = m.Get(ctx, op.GetName())
			wantCode(t, err, codes.NotFound)
			wantCode(t, other.Delete(ctx, op.GetName()), codes.NotFound)
			// The data outlives the operation.
			e.read(resp.GetObjects()[0].GetName())
		})
	}
}

func bytesText(resp *operationspb.ExportResponse) string {
	var n int64
	for _, o := range resp.GetObjects() {
		n += o.GetSize()
	}
	return operationsBytes(n)
}

// operationsBytes mirrors the documented format: decimal units, one decimal.
func operationsBytes(n int64) string {
	switch {
	case n < 1000:
		return itoa(n) + " B"
	default:
		return fmtFloat(float64(n)/1000) + " kB"
	}
}

// TestValidation: bad requests fail at once with INVALID_ARGUMENT naming
// the field, and nothing is recorded.
func TestValidation(t *testing.T) {
	e := newEnv(t, local, emulator.GenerateSpec{Developers: 1}, emulator.Options{})
	m := e.manager("v")
	ctx := context.Background()
	cases := []struct {
		field string
		mod   func(*operationspb.ExportRequest)
	}{
		{"parent", func(r *operationspb.ExportRequest) { r.Parent = "acme" }},
		{"parent", func(r *operationspb.ExportRequest) { r.Parent = "organizations/acme/x" }},
		{"resource", func(r *operationspb.ExportRequest) { r.Resource = "users" }},
		{"resource", func(r *operationspb.ExportRequest) { r.Resource = "" }},
		{"format", func(r *operationspb.ExportRequest) { r.Format = "xml" }},
		{"compression", func(r *operationspb.ExportRequest) { r.Compression = "zstd" }},
		{"compression", func(r *operationspb.ExportRequest) { r.Format, r.Compression = "parquet", "brotli" }},
		{"csv.delimiter", func(r *operationspb.ExportRequest) {
			r.Format, r.Csv = "csv", &operationspb.CsvOptions{Delimiter: ";;"}
		}},
		{"csv.delimiter", func(r *operationspb.ExportRequest) {
			r.Format, r.Csv = "csv", &operationspb.CsvOptions{Delimiter: "\""}
		}},
		{"csv", func(r *operationspb.ExportRequest) { r.Csv = &operationspb.CsvOptions{NoHeader: true} }},
		{"destination", func(r *operationspb.ExportRequest) { r.Destination = "" }},
		{"destination", func(r *operationspb.ExportRequest) { r.Destination = "s3://bucket/x" }},
		{"destination", func(r *operationspb.ExportRequest) { r.Destination = "gs://" }},
		{"destination", func(r *operationspb.ExportRequest) { r.Destination = "gs://Bad_Bucket/x" }},
		{"destination", func(r *operationspb.ExportRequest) { r.Destination = "gs://acme-exports/../x" }},
		{"apigee_url", func(r *operationspb.ExportRequest) { r.ApigeeUrl = "ftp://x" }},
		{"apigee_url", func(r *operationspb.ExportRequest) { r.ApigeeUrl = "https://apigee.googleapis.com/v1/organizations" }},
		{"max_object_size", func(r *operationspb.ExportRequest) { r.MaxObjectSize = 10 }},
		{"max_object_size", func(r *operationspb.ExportRequest) { r.MaxObjectSize = -1 }},
		{"request_id", func(r *operationspb.ExportRequest) { r.RequestId = strings.Repeat("x", 200) }},
	}
	for _, c := range cases {
		req := e.request("developers", "json")
		c.mod(req)
		_, err := m.Start(ctx, req)
		wantCode(t, err, codes.InvalidArgument, c.field+": ")
		_, err = m.Create(ctx, req)
		wantCode(t, err, codes.InvalidArgument, c.field+": ")
	}
	ops, _, err := m.List(ctx, "organizations/acme", "", 0, "")
	if err != nil || len(ops) != 0 {
		t.Fatalf("invalid requests left operations: %v %v", ops, err)
	}

	// Defaults: json, no compression; tab-delimited CSV is accepted.
	spec, err := operations.Spec(&operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps", Destination: "file:///tmp/x"})
	if err != nil || spec.Format != "json" || spec.Compression != "none" || spec.Org != "acme" {
		t.Fatalf("defaults: %+v %v", spec, err)
	}
	spec, err = operations.Spec(&operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps", Format: "csv", Destination: "gs://acme-exports/p",
		Csv: &operationspb.CsvOptions{Delimiter: "\t", GuardFormulas: true}})
	if err != nil || spec.CSV.Delimiter != '\t' || !spec.CSV.GuardFormulas {
		t.Fatalf("csv: %+v %v", spec, err)
	}
	spec, err = operations.Spec(&operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apiproducts", Format: "parquet", Destination: "/tmp/x"})
	if err != nil || spec.Compression != "zstd" {
		t.Fatalf("parquet default compression: %+v %v", spec, err)
	}
}

// TestRequestID: a retried Create or Start (same request_id and parent)
// returns the first operation, even when the retries race.
func TestRequestID(t *testing.T) {
	for _, b := range []backend{local, gcs} {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b, small, emulator.Options{})
			ctx := context.Background()
			m1, m2 := e.manager("a"), e.manager("b")
			req := e.request("apiproducts", "json")
			req.RequestId = "6c5a3f9e-1f4b-4f0e-9a51-0c1d2e3f4a5b"

			names := make([]string, 6)
			var wg sync.WaitGroup
			for i := range names {
				m := m1
				if i%2 == 1 {
					m = m2 // another process
				}
				wg.Go(func() {
					op, err := m.Create(ctx, proto.Clone(req).(*operationspb.ExportRequest))
					if err != nil {
						t.Error(err)
						return
					}
					names[i] = op.GetName()
				})
			}
			wg.Wait()
			for _, n := range names {
				if n != names[0] || n == "" {
					t.Fatalf("retries got different operations: %v", names)
				}
			}
			ops, _, err := m1.List(ctx, "organizations/acme", "", 0, "")
			if err != nil || len(ops) != 1 {
				t.Fatalf("%d operations recorded, want 1 (%v)", len(ops), err)
			}

			// Start with the same id runs the recorded operation.
			op, err := m2.Start(ctx, req)
			if err != nil || op.GetName() != names[0] {
				t.Fatalf("Start = %v, %v; want %s", op, err, names[0])
			}
			done, err := m2.Wait(ctx, op.GetName(), 0)
			if err != nil {
				t.Fatal(err)
			}
			e.checkResponse(done, len(e.data.Orgs[0].APIProducts))
			again, err := m1.Start(ctx, req)
			if err != nil || again.GetName() != names[0] || !again.GetDone() {
				t.Fatalf("Start after the end = %v, %v", again, err)
			}

			// Another request id is another operation; so is the same id under
			// another organization.
			req2 := proto.Clone(req).(*operationspb.ExportRequest)
			req2.RequestId = "other"
			op2, err := m1.Create(ctx, req2)
			if err != nil || op2.GetName() == names[0] {
				t.Fatalf("another request id: %v, %v", op2, err)
			}
			req3 := proto.Clone(req).(*operationspb.ExportRequest)
			req3.Parent = "organizations/globex"
			op3, err := m1.Create(ctx, req3)
			if err != nil || !strings.HasPrefix(op3.GetName(), "organizations/globex/") {
				t.Fatalf("same id, other organization: %v, %v", op3, err)
			}

			// After Delete the id is free again.
			if err := m1.Delete(ctx, names[0]); err != nil {
				t.Fatal(err)
			}
			op4, err := m1.Create(ctx, req)
			if err != nil || op4.GetName() == names[0] {
				t.Fatalf("Create after Delete = %v, %v", op4, err)
			}
		})
	}
}
