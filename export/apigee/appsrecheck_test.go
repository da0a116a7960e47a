package apigee_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// signalSpill is a dirSpill that closes sealed once the first chunk of
// the named pass is complete: that pass's reader has read its first page.
type signalSpill struct {
	dirSpill
	chunk  string
	sealed chan struct{}
	once   sync.Once
}

type signalWriter struct {
	apigee.SpillWriter
	done func()
}

func (w signalWriter) Close() error {
	err := w.SpillWriter.Close()
	if err == nil && w.done != nil {
		w.done()
	}
	return err
}

func (s *signalSpill) Create(ctx context.Context, name string) (apigee.SpillWriter, error) {
	w, err := s.dirSpill.Create(ctx, name)
	if err != nil || name != s.chunk {
		return w, err
	}
	return signalWriter{w, func() { s.once.Do(func() { close(s.sealed) }) }}, nil
}

// TestAppsRevokedWhilePassesReadAtOnce: an app of the first apps pass not
// yet delivered is revoked while that pass pages, after the reader of the
// revoked apps' pass has read it: the app has left the first pass and is
// not in what was read of the pass it joined. With the passes read at once
// it must still be exported, exactly once, like every other app: the first
// pass's totalSize fell, so after the last pass the listing learns each
// pass's totalSize again and reads again the one that grew. Read one pass
// after another the same change costs those few probes and reads nothing
// again (the revoked pass was read after the change).
func TestAppsRevokedWhilePassesReadAtOnce(t *testing.T) {
	data, ids := shiftData(46, 600)
	for _, parallel := range []bool{true, false} {
		name := "one request at a time"
		if parallel {
			name = "passes at once"
		}
		t.Run(name, func(t *testing.T) {
			var probes atomic.Int32
			l, done := revokeWhileListed(t, data, ids[3*shiftPageSize+20].id, parallel, emulator.Options{}, func(r *http.Request) {
				if r.URL.Query().Get("pageSize") == "1" {
					probes.Add(1)
				}
			})
			defer l.Close()
			var (
				total          int64
				overlaps, dups int
			)
			got, ws := listPages(t, l, func(p *apigee.Page) {
				total, overlaps, dups = p.TotalSize, overlaps+p.Overlaps, dups+p.Duplicates
			})
			if !done.Load() {
				t.Fatal("nothing changed: the test did not test")
			}
			checkSameKeys(t, got, allApps(data))
			if want := int64(len(got)); total-int64(overlaps) != want || dups != 0 {
				t.Errorf("totalSize %d less %d overlaps, %d duplicates: want %d apps and none", total, overlaps, dups, want)
			}
			reread := hasWarningText(ws, "were read again from their start")
			if reread != parallel {
				t.Errorf("warnings %v: a pass read again is %v, want %v", ws, reread, parallel)
			}
			if n := probes.Load(); n != 3+4 {
				t.Errorf("%d requests for one app, want 3 probes before and 4 after", n)
			}
		})
	}
}

// TestAppsStaticMakesNoRecheck: an organization that does not change
// costs no request beyond the three probes for the other passes' totals,
// and gives no warning, read at once or one pass after another.
func TestAppsStaticMakesNoRecheck(t *testing.T) {
	data, _ := shiftData(47, 400)
	for _, parallel := range []bool{true, false} {
		var probes atomic.Int32
		emu := exporttest.Emulator(t, data, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Query().Get("pageSize") == "1" {
				probes.Add(1)
			}
			return false
		}})
		c := exporttest.ApigeeClient(t, emu, apigee.WithPageSize(shiftPageSize))
		got, ws := listApps(t, c, parallel)
		checkSameRecords(t, apigee.Apps, got, allApps(data))
		if n := probes.Load(); n != 3 || len(ws) != 0 {
			t.Errorf("passes at once %v: %d probes, warnings %v; want 3 and none", parallel, n, ws)
		}
	}
}

// checkSameKeys checks that got holds every app of want by appId, each
// once (an app changed under the listing differs from its generated
// record in its status).
func checkSameKeys(t *testing.T, got, want []proto.Message) {
	t.Helper()
	seen := map[string]bool{}
	for _, g := range got {
		k := apigee.Apps.Key(g)
		if seen[k] {
			t.Fatalf("app %q listed twice", k)
		}
		seen[k] = true
	}
	var missing []string
	for _, w := range want {
		if k := apigee.Apps.Key(w); !seen[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 || len(got) != len(want) {
		t.Fatalf("%d apps, want %d; missing %s", len(got), len(want), strings.Join(missing, ", "))
	}
}

// revokeWhileListed starts an emulator on data, with opts, that revokes the
// app revoked when the first apps pass asks for its fourth page: when
// parallel, once the reader of the revoked apps' pass has spilled its first
// chunk, so that the app moves to a pass already read. It returns a listing
// of the apps (the passes read at once when parallel, with pages of
// shiftPageSize) and whether the app was revoked. seen, if not nil, sees
// every request first.
func revokeWhileListed(t *testing.T, data *emulator.Data, revoked string, parallel bool, opts emulator.Options, seen func(*http.Request)) (*apigee.Lister, *atomic.Bool) {
	t.Helper()
	const at = 3
	spill := &signalSpill{dirSpill: dirSpill{t.TempDir()}, chunk: "apps-pass-2-chunk-00000", sealed: make(chan struct{})}
	var (
		emu     *emulator.Server
		counter firstPassCounter
		changed sync.Once
		done    atomic.Bool
	)
	opts.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if seen != nil {
			seen(r)
		}
		if n, ok := counter.follow(r); ok && n == at {
			changed.Do(func() {
				if parallel {
					select {
					case <-spill.sealed:
					case <-time.After(15 * time.Second):
						t.Error("the revoked apps' pass was not read ahead")
					}
				}
				if err := emu.SetAppStatus("acme", revoked, "revoked"); err != nil {
					t.Error(err)
				}
				done.Store(true)
			})
		}
		return false
	}
	emu = exporttest.Emulator(t, data, opts)
	c := exporttest.ApigeeClient(t, emu, apigee.WithPageSize(shiftPageSize))
	l := c.List("acme", apigee.Apps, apigee.Cursor{})
	if parallel {
		l.ReadAhead(4, spill, nil)
	}
	return l, &done
}
