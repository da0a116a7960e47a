package operations_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// BenchmarkGet measures Manager.Get of a settled record that this Manager
// does not run, as a poller that reaches another instance than the
// runner's sees it: GetOperation's cost to the server besides gRPC or HTTP.
func BenchmarkGet(b *testing.B) {
	dir := b.TempDir()
	st, err := store.Local(dir)
	if err != nil {
		b.Fatal(err)
	}
	m, err := operations.New(b.Context(), operations.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	op, err := m.Create(b.Context(), &operationspb.ExportRequest{
		Parent: "organizations/acme", Resource: "apps", Format: "json", Destination: "file://" + b.TempDir(),
	})
	if err != nil {
		b.Fatal(err)
	}
	// Settled, as a record is a second after its last write.
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(filepath.Join(dir, op.GetName()+".json"), old, old); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Get(b.Context(), op.GetName()); err != nil {
			b.Fatal(err)
		}
	}
}
