package apigee_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// TestAppsTotalSizeCountsAll: an API whose totalSize counts every app of
// the organization whatever the status and keyStatus filters ("Total count
// of Apps" allows that reading) reports the same total on every pass. The
// listing must take it for the number of apps, not the sum of four, so that
// the pages' total equals the apps delivered, read at once or one pass after
// another; and it must make no request and give no warning more than
// against a per-listing totalSize.
func TestAppsTotalSizeCountsAll(t *testing.T) {
	t.Parallel()
	data, _ := shiftData(48, 200)
	for _, parallel := range []bool{true, false} {
		var requests atomic.Int32
		emu := exporttest.Emulator(t, data, emulator.Options{TotalSizeAll: true, Intercept: func(w http.ResponseWriter, r *http.Request) bool {
			requests.Add(1)
			return false
		}})
		c := exporttest.ApigeeClient(t, emu, apigee.WithPageSize(shiftPageSize))
		l := c.List("acme", apigee.Apps, apigee.Cursor{})
		if parallel {
			l.ReadAhead(4, dirSpill{t.TempDir()}, nil)
		}
		var last *apigee.Page
		got, ws := listPages(t, l, func(p *apigee.Page) {
			if !p.TotalAll || p.TotalSize != int64(len(data.Orgs[0].Apps)) {
				t.Fatalf("passes at once %v: page %d says total %d (all %v), want every pass's %d", parallel, p.Number, p.TotalSize, p.TotalAll, len(data.Orgs[0].Apps))
			}
			last = p
		})
		l.Close()
		checkSameRecords(t, apigee.Apps, got, allApps(data))
		if last == nil || len(ws) != 0 {
			t.Errorf("passes at once %v: warnings %v; want none", parallel, ws)
		}
		// Against the per-listing reading the same listing costs the same.
		var perPass atomic.Int32
		emu2 := exporttest.Emulator(t, data, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
			perPass.Add(1)
			return false
		}})
		c2 := exporttest.ApigeeClient(t, emu2, apigee.WithPageSize(shiftPageSize))
		listApps(t, c2, parallel)
		if requests.Load() != perPass.Load() {
			t.Errorf("passes at once %v: %d requests, %d against a per-listing totalSize", parallel, requests.Load(), perPass.Load())
		}
	}
}

// TestAppsRevokedTotalSizeCountsAll: as TestAppsRevokedWhilePassesReadAtOnce,
// an app of the first pass is revoked after the reader of the revoked apps'
// pass has read it and before the first pass reaches it; but totalSize counts
// every app, so no total changes. The listing sees instead that it delivered
// fewer apps than that count, reads every pass again once, and exports every
// app exactly once, with a warning that says why.
func TestAppsRevokedTotalSizeCountsAll(t *testing.T) {
	t.Parallel()
	data, ids := shiftData(46, 600)
	l, done := revokeWhileListed(t, data, ids[3*shiftPageSize+20].id, true, emulator.Options{TotalSizeAll: true}, nil)
	defer l.Close()
	got, ws := listRest(t, l)
	if !done.Load() {
		t.Fatal("nothing changed: the test did not test")
	}
	checkSameKeys(t, got, allApps(data))
	if !hasWarningText(ws, "every listing was read again") {
		t.Errorf("warnings %v: want one saying every listing was read again", ws)
	}
}
