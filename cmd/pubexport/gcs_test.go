package main

import (
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
)

// TestRunToCloudStorage exports to a gs:// destination (fake-gcs-server
// through STORAGE_EMULATOR_HOST, as the storage client honours it), with the
// operations kept in the same bucket, and reads them back with
// `operations list --store gs://...`. The default store is at the bucket's
// root, out of the data's prefix (where a lifecycle rule on the prefix
// would delete it).
func TestRunToCloudStorage(t *testing.T) {
	t.Parallel()
	srv := startGCS(t, "acme-exports")

	ta := newTestApp(gcsEnv(srv, nil))
	if code := ta.run(t.Context(), "run", "--to", "gs://acme-exports/apigee/daily", "--resource", "developers,apiproducts", "--format", "ndjson", "--compression", "gzip"); code != 0 {
		t.Fatalf("exit %d\n%s", code, ta.stderr)
	}
	var finals, records []string
	it := srv.Client.Bucket("acme-exports").Objects(t.Context(), &storage.Query{})
	for {
		o, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(o.Name, "apigee/daily/ExportFinal_") && strings.HasSuffix(o.Name, ".ndjson.gz"):
			finals = append(finals, o.Name)
		case strings.HasPrefix(o.Name, ".pubexport/operations/organizations/acme/operations/"):
			records = append(records, o.Name)
		case strings.HasPrefix(o.Name, "apigee/daily/.pubexport/"):
			t.Errorf("operation store in the data's prefix: %s", o.Name)
		case strings.Contains(o.Name, ".pubexport-staging/"):
			t.Errorf("staging left: %s", o.Name)
		}
	}
	if len(finals) != 2 || len(records) != 2 {
		t.Errorf("objects: finals %v, operation records %v", finals, records)
	}
	for _, f := range finals {
		if !strings.Contains(ta.stdout.String(), "gs://acme-exports/"+f) {
			t.Errorf("stdout lacks gs://acme-exports/%s:\n%s", f, ta.stdout)
		}
	}

	ops := newTestApp(gcsEnv(srv, nil))
	if code := ops.run(t.Context(), "operations", "list", "--org", "acme", "--store", "gs://acme-exports/.pubexport/operations"); code != 0 {
		t.Fatalf("operations list: exit %d\n%s", code, ops.stderr)
	}
	if strings.Count(ops.stdout.String(), "DONE") != 2 {
		t.Errorf("operations list:\n%s", ops.stdout)
	}
}
