package export_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/formats"
)

// TestResumedErrorNamesTheRightPage: a resumed export whose checkpoint's
// startKey developer was deleted while it was suspended fails ABORTED (as
// the README documents), and its message names the page it was reading as
// the export counts them, page 5 after 4, in both of its parts: the
// listing's count starts after the checkpoint's pages, not at 1.
func TestResumedErrorNamesTheRightPage(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 40, Seed: 4})
	emu := exporttest.Emulator(t, data, emulator.Options{})
	c := exporttest.ApigeeClient(t, emu, apigee.WithPageSize(5))
	dir := t.TempDir()
	b := openLocal(t, dir)
	spec := export.Spec{Org: "acme", Resource: apigee.Developers, Format: formats.NDJSON, Destination: "file://" + dir, ApigeeURL: emu.URL}

	ctx, cancel := context.WithCancelCause(context.Background())
	var last *export.Checkpoint
	r := &export.Runner{Source: export.FromClient(c), Bucket: b, CheckpointEvery: 2, StagingID: "op-pages",
		OnCheckpoint: func(_ context.Context, cp *export.Checkpoint) error {
			if last == nil && cp.Pages >= 4 {
				last = cp
				cancel(export.ErrSuspend)
			}
			return nil
		}}
	if _, err := r.Run(ctx, spec); status.Code(err) != codes.Aborted || last == nil {
		t.Fatalf("suspended run: %v (checkpoint %v), want ABORTED after a checkpoint", err, last != nil)
	}
	if last.Pages != 4 || last.Cursor.StartKey == "" {
		t.Fatalf("checkpoint after %d pages at %+v, want 4 pages and a startKey", last.Pages, last.Cursor)
	}
	req, _ := http.NewRequest(http.MethodDelete, emu.URL+"/v1/organizations/acme/developers/"+url.PathEscape(last.Cursor.StartKey), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deleting %s: HTTP %d", last.Cursor.StartKey, resp.StatusCode)
	}

	r = &export.Runner{Source: export.FromClient(c), Bucket: b, CheckpointEvery: 2, StagingID: "op-pages", Resume: last}
	_, err = r.Run(context.Background(), spec)
	if status.Code(err) != codes.Aborted {
		t.Fatalf("resumed run: %v, want ABORTED", err)
	}
	for _, want := range []string{"reading page 5:", "page 5 could not be read", "run the export again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), fmt.Sprintf("page %d could not", 1)) {
		t.Errorf("error %q numbers the page from the resume", err)
	}
}
