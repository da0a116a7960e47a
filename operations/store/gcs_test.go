package store_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"pubexport/export/sink/gcstest"
	"pubexport/operations/store"
)

// TestGCSRetriesRecordWrites: with every second upload request failing with
// 503 before Cloud Storage sees it, every write of the store succeeds, and
// so does the rest of a record's life: record writes are retried.
func TestGCSRetriesRecordWrites(t *testing.T) {
	srv := gcstest.Start(t, "ops")
	faults := gcstest.FailEvery(2, http.StatusServiceUnavailable)
	srv.Use(faults.Middleware)
	s := store.GCS(srv.NewClient(t).Bucket("ops"), "dest/.pubexport")
	ctx := t.Context()

	gen, err := s.Create(ctx, record(t, opName, 0))
	if err != nil {
		t.Fatalf("Create with 503s: %v", err)
	}
	for i := range 5 {
		if gen, err = s.Update(ctx, record(t, opName, int32(i+1)), gen); err != nil {
			t.Fatalf("Update %d with 503s: %v", i, err)
		}
	}
	rec, got, err := s.Get(ctx, opName)
	if err != nil || got != gen || rec.GetAttempts() != 5 {
		t.Fatalf("Get: attempts %d, generation %d (want 5, %d), %v", rec.GetAttempts(), got, gen, err)
	}
	if owner, err := s.ClaimRequest(ctx, "organizations/acme", "r-1", opName); err != nil || owner != opName {
		t.Fatalf("ClaimRequest with 503s: %q, %v", owner, err)
	}
	if err := s.ReleaseRequest(ctx, "organizations/acme", "r-1", opName); err != nil {
		t.Fatalf("ReleaseRequest with 503s: %v", err)
	}
	if faults.Injected() < 5 {
		t.Fatalf("only %d faults injected", faults.Injected())
	}
	// A stale generation is still refused: the retries kept the precondition.
	_, err = s.Update(ctx, record(t, opName, 9), gen-1)
	wantCode(t, err, codes.Aborted)
}

// TestGCSReadIsBounded: an endpoint that lists a record's attributes but
// answers every download with 404 (a misrouted emulator host, a proxy)
// makes Get fail with UNAVAILABLE after a few tries, naming the likely
// cause, instead of spinning forever.
func TestGCSReadIsBounded(t *testing.T) {
	srv := gcstest.Start(t, "ops")
	s := store.GCS(srv.NewClient(t).Bucket("ops"), "dest/.pubexport")
	if _, err := s.Create(t.Context(), record(t, opName, 0)); err != nil {
		t.Fatal(err)
	}
	var downloads atomic.Int64
	srv.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/storage/v1/") {
				downloads.Add(1)
				gcstest.WriteError(w, http.StatusNotFound, "No such object")
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second) // liveness only
	defer cancel()
	_, _, err := s.Get(ctx, opName)
	wantCode(t, err, codes.Unavailable)
	if !strings.Contains(err.Error(), "STORAGE_EMULATOR_HOST") {
		t.Errorf("error does not name the likely cause: %v", err)
	}
	if n := downloads.Load(); n > 10 {
		t.Errorf("%d downloads for one Get", n)
	}
}
