package export_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/formats"
)

// TestDevelopersExportEveryExpandMode: a developers export from an API that
// ignores or refuses expand next to count and startKey, as its reference
// allows, succeeds and writes the very objects (same names, same bytes) that
// an export from an API that honours expand writes, for organizations of 1,
// 999 and 2,001 developers (three pages: 1000, then 999 after the repeated
// startKey record, then the last two); in the strict modes the developers past
// the first page are read one by one (list-then-get), and the warnings say
// so. A 2,001-developer export suspended in the middle of list-then-get and
// resumed from its checkpoint writes the same objects too.
func TestDevelopersExportEveryExpandMode(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	if testing.Short() {
		t.Skip("exports 2,001 developers a dozen times")
	}
	for _, size := range []int{1, 999, 2001} {
		data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: size, Seed: 31})
		run := func(t *testing.T, mode emulator.ExpandMode, f formats.Format, mod func(*export.Runner)) (*export.Result, string, error) {
			t.Helper()
			emu := exporttest.Emulator(t, data, emulator.Options{DeveloperExpand: mode})
			src := export.FromClient(exporttest.ApigeeClient(t, emu, apigee.WithRateLimit(0), apigee.WithRetry(0, time.Millisecond, 10*time.Millisecond)))
			dir := t.TempDir()
			b := openLocal(t, dir)
			spec := export.Spec{Org: "acme", Resource: apigee.Developers, Format: f, Destination: "file://" + dir, ApigeeURL: emu.URL}
			r := &export.Runner{Source: src, Bucket: b}
			if mod != nil {
				mod(r)
			}
			res, err := r.Run(context.Background(), spec)
			return res, dir, err
		}
		// One format: each object is a function of the records in their
		// order, which the NDJSON bytes show (Parquet's determinism is
		// tested on its own).
		for _, f := range []formats.Format{formats.NDJSON} {
			clean, cleanDir, err := run(t, emulator.ExpandHonoured, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			if clean.Records != int64(size) {
				t.Fatalf("expand honoured: %d developers, want %d", clean.Records, size)
			}
			for _, mode := range []emulator.ExpandMode{emulator.ExpandIgnoredWithCount, emulator.ExpandIgnoredWithStartKey, emulator.ExpandRejected} {
				t.Run(fmt.Sprintf("%d/%s/%s", size, f, mode), func(t *testing.T) {
					res, dir, err := run(t, mode, f, nil)
					if err != nil {
						t.Fatal(err)
					}
					sameObjects(t, cleanDir, clean, dir, res)
					gets := mode != emulator.ExpandIgnoredWithCount && size > 1000
					if got := hasWarning(res.Warnings, "one call per developer"); got != gets {
						t.Errorf("list-then-get warning %v, want %v: %q", got, gets, res.Warnings)
					}
				})
			}
			if size <= 1000 || f != formats.NDJSON {
				continue
			}
			t.Run(fmt.Sprintf("%d/%s/rejected/resumed", size, f), func(t *testing.T) {
				// Suspended at the first checkpoint past a page read one
				// developer at a time, then resumed from it.
				var (
					mu sync.Mutex
					at *export.Checkpoint
				)
				ctx, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				emu := exporttest.Emulator(t, data, emulator.Options{DeveloperExpand: emulator.ExpandRejected})
				src := export.FromClient(exporttest.ApigeeClient(t, emu, apigee.WithRateLimit(0)))
				dir := t.TempDir()
				b := openLocal(t, dir)
				spec := export.Spec{Org: "acme", Resource: apigee.Developers, Format: f, Destination: "file://" + dir, ApigeeURL: emu.URL}
				_, err := (&export.Runner{Source: src, Bucket: b, OnCheckpoint: func(_ context.Context, cp *export.Checkpoint) error {
					mu.Lock()
					defer mu.Unlock()
					if at == nil && hasWarning(warningTexts(cp.Warnings), "one call per developer") && cp.Records < int64(size) {
						at = cp
						cancel(export.ErrSuspend)
					}
					return nil
				}, CheckpointEvery: 1, StagingID: "op-1"}).Run(ctx, spec)
				if status.Code(err) != codes.Aborted || at == nil {
					t.Fatalf("run returned %v, checkpoint %+v; want ABORTED at a checkpoint after a page read one by one", err, at)
				}
				res, err := (&export.Runner{Source: src, Bucket: b, Resume: at, CheckpointEvery: 1, StagingID: "op-1"}).Run(context.Background(), spec)
				if err != nil {
					t.Fatal(err)
				}
				if at.Records <= 1000 {
					t.Fatalf("suspended after %d records: not inside list-then-get", at.Records)
				}
				sameObjects(t, cleanDir, clean, dir, res)
			})
		}
	}
}

// sameObjects fails t unless res wrote the objects of clean: the same
// names (a hash of the content), sizes, CRC32Cs, record counts and bytes.
func sameObjects(t *testing.T, cleanDir string, clean *export.Result, dir string, res *export.Result) {
	t.Helper()
	if len(res.Objects) != len(clean.Objects) || res.Records != clean.Records || res.Duplicates != 0 {
		t.Fatalf("%d objects, %d records, %d duplicates; a clean run %d objects, %d records", len(res.Objects), res.Records, res.Duplicates, len(clean.Objects), clean.Records)
	}
	for i, o := range res.Objects {
		c := clean.Objects[i]
		if o.Name != c.Name || o.Size != c.Size || o.CRC32C != c.CRC32C || o.Records != c.Records {
			t.Fatalf("object %d: %s (%d bytes, %d records), a clean run %s (%d bytes, %d records)", i, o.Name, o.Size, o.Records, c.Name, c.Size, c.Records)
		}
		if got, want := read(t, openLocal(t, dir), o.Name), read(t, openLocal(t, cleanDir), c.Name); string(got) != string(want) {
			t.Fatalf("object %s: the bytes differ", o.Name)
		}
	}
}

func warningTexts(ws []apigee.Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Text
	}
	return out
}
