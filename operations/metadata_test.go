package operations

import (
	"strings"
	"testing"
	"time"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
)

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		r    apigee.Resource
		p    export.Progress
		want string
	}{
		{apigee.Developers, export.Progress{Records: 12000, Pages: 12, Bytes: 6_100_000, Total: -1}, "exported 12,000 developers in 12 pages, 6.1 MB"},
		{apigee.Apps, export.Progress{Records: 1, Pages: 1, Bytes: 999, Total: -1}, "exported 1 app in 1 page, 999 B"},
		{apigee.Apps, export.Progress{Records: 500, Pages: 1, Bytes: 1000, Total: 1500, Objects: 1}, "exported 500 of 1,500 apps in 1 page, 1.0 kB, 1 object published"},
		{apigee.APIProducts, export.Progress{Records: 1234567, Pages: 1235, Bytes: 2_500_000_000, Total: -1, Objects: 3}, "exported 1,234,567 API products in 1,235 pages, 2.5 GB, 3 objects published"},
		{apigee.Developers, export.Progress{Total: -1}, "exported 0 developers in 0 pages, 0 B"},
	} {
		if got := describe(c.r, c.p); got != c.want {
			t.Errorf("describe(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
	if got := bytesize(999_960); got != "1.0 MB" {
		t.Errorf("bytesize(999960) = %q, want 1.0 MB (not 1000.0 kB)", got)
	}
}

// TestPercentOnlyWhenKnown: percent_done is absent while the total is
// unknown, and the details always hold the counters.
func TestPercentOnlyWhenKnown(t *testing.T) {
	md := new(apigeepb.OperationMetadata)
	applyProgress(md, apigee.Developers, export.Progress{Records: 50, Pages: 5, Bytes: 10, Total: -1, Duplicates: 2}, false)
	if md.GetProgress().PercentDone != nil {
		t.Fatalf("percent without a total: %v", md)
	}
	f := md.GetProgress().GetDetails().GetFields()
	if f["records"].GetNumberValue() != 50 || f["pages"].GetNumberValue() != 5 || f["bytes"].GetNumberValue() != 10 || f["total"] != nil {
		t.Fatalf("details: %v", f)
	}
	if len(md.GetWarnings()) != 1 || md.GetWarnings()[0] != "skipped 2 duplicate records that Apigee returned more than once" {
		t.Fatalf("warnings: %q", md.GetWarnings())
	}
	applyProgress(md, apigee.Apps, export.Progress{Records: 50, Total: 200, Unknown: 1}, true)
	if md.GetProgress().GetPercentDone() != 25 || md.GetProgress().GetDetails().GetFields()["total"].GetNumberValue() != 200 {
		t.Fatalf("with a total: %v", md)
	}
	if len(md.GetWarnings()) != 2 {
		t.Fatalf("warnings: %q", md.GetWarnings())
	}
}

// TestNamedWarningsAndWaiting: the export's named warnings reach the
// metadata (replacing the bare count of unknown fields), and a wait on
// Apigee shows in the description and the details.
func TestNamedWarningsAndWaiting(t *testing.T) {
	md := new(apigeepb.OperationMetadata)
	named := `ignored unknown field "apiProduct.futureField" (newer than this pubexport; not exported) (40 times)`
	applyProgress(md, apigee.APIProducts, export.Progress{Records: 40, Pages: 1, Total: -1, Unknown: 40,
		Warnings: []string{named}, Waiting: 12 * time.Second}, false)
	if w := md.GetWarnings(); len(w) != 1 || w[0] != named {
		t.Fatalf("warnings %q, want only the named one", w)
	}
	if d := md.GetProgress().GetDescription(); !strings.Contains(d, "waiting on Apigee for 12s") {
		t.Fatalf("description %q", d)
	}
	if s := md.GetProgress().GetDetails().GetFields()["waitingSeconds"].GetNumberValue(); s != 12 {
		t.Fatalf("waitingSeconds %v", s)
	}
	applyProgress(md, apigee.APIProducts, finalProgress(&export.Result{Records: 40, Warnings: []string{named}}), false)
	if w := md.GetWarnings(); len(w) != 1 || w[0] != named {
		t.Fatalf("final warnings %q", w)
	}
	if _, ok := md.GetProgress().GetDetails().GetFields()["waitingSeconds"]; ok {
		t.Fatal("still waiting when finished")
	}
}
