package export_test

import (
	"sync"
	"testing"
	"time"

	"pubexport/export"
	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
)

// TestWriteLatestNewestWins: the pointer moves only to an export that
// started later, whatever order the exports finish in, including when many
// finish at once (the generation precondition, retried on conflict).
func TestWriteLatestNewestWins(t *testing.T) {
	srv := gcstest.Start(t, "ptr-bucket")
	dir := t.TempDir()
	for name, root := range map[string]sink.Bucket{
		"gcs":    openGCS(t, srv, "gs://ptr-bucket/apigee"),
		"folder": openLocalBucket(t, dir),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			base := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
			at := func(day int) export.Latest {
				return export.Latest{Organization: "acme", Resource: "apps", Operation: "op-" + string(rune('a'+day)),
					RunTime: base.AddDate(0, 0, day), Manifest: "m" + string(rune('a'+day)), Objects: []string{}}
			}
			if moved, err := export.WriteLatest(ctx, root, at(2)); err != nil || !moved {
				t.Fatalf("first pointer: %v %v", moved, err)
			}
			// Yesterday's export finishes late: the pointer stays.
			if moved, err := export.WriteLatest(ctx, root, at(1)); err != nil || moved {
				t.Fatalf("older export moved the pointer: %v %v", moved, err)
			}
			// Rewriting the same export is idempotent.
			if moved, err := export.WriteLatest(ctx, root, at(2)); err != nil || !moved {
				t.Fatalf("same export: %v %v", moved, err)
			}
			var wg sync.WaitGroup
			for day := 3; day < 11; day++ {
				wg.Go(func() {
					if _, err := export.WriteLatest(ctx, root, at(day)); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			l, err := export.ReadLatest(ctx, root, "acme", "apps")
			if err != nil {
				t.Fatal(err)
			}
			if want := at(10); !l.RunTime.Equal(want.RunTime) || l.Manifest != want.Manifest {
				t.Errorf("after racing writers the pointer names %v (%s), want the newest %v", l.RunTime, l.Manifest, want.RunTime)
			}
			if _, err := export.ReadLatest(ctx, root, "acme", "developers"); err == nil {
				t.Error("a pointer nobody wrote was found")
			}
		})
	}
}

func openLocalBucket(t *testing.T, dir string) sink.Bucket {
	t.Helper()
	b, err := sink.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
