package export_test

import (
	"strings"
	"testing"

	"pubexport/export"
	"pubexport/formats"
)

// withoutSchema returns names (sorted object names) without the BigQuery
// schema, checking that there is exactly one for the formats that get one
// (NDJSON, Parquet) and none otherwise.
func withoutSchema(t *testing.T, f formats.Format, names []string) []string {
	t.Helper()
	var out []string
	schemas := 0
	for _, n := range names {
		if strings.HasPrefix(n, export.SchemaPrefix) {
			schemas++
			continue
		}
		out = append(out, n)
	}
	want := 0
	if f == formats.NDJSON || f == formats.Parquet {
		want = 1
	}
	if schemas != want {
		t.Errorf("%d BigQuery schemas for %s in %v, want %d", schemas, f, names, want)
	}
	return out
}
