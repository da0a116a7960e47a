package sink

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/sink/gcstest"
)

// TestGCSComposeCleanupIsBounded: when a compose tree is cancelled, the
// deletion of its intermediate objects outlives the cancellation but not
// its own deadline, even when Cloud Storage never answers. Without the
// deadline this test hangs (until go test's -timeout).
func TestGCSComposeCleanupIsBounded(t *testing.T) {
	t.Parallel()
	const bucket = "pubexport-test"
	srv := gcstest.Start(t, bucket)
	b, err := Open(context.Background(), "gs://"+bucket+"/run",
		WithClientOptions(srv.ClientOptions()...), WithRetry(3, time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	gb := b.(*gcsBucket)
	// Short, but long enough for a delete to reach the server on a loaded
	// machine (at 100ms, one run in about fifty of make race-loop sent none).
	gb.cleanupTimeout = time.Second

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var parts []string
	for i := range 40 {
		name := fmt.Sprintf("staging/p-%02d", i)
		w, err := b.NewWriter(ctx, name, Attrs{})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(name))
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, name)
	}

	// The run is cancelled while the second intermediate compose is under
	// way (it completes: see settleTimeout), so the final compose is never
	// sent; deletes are never answered: each waits until the client gives
	// up on it.
	var mu sync.Mutex
	var deletes int
	srv.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/o/run/staging/object.compose-0-1/compose"):
				cancel()
				next.ServeHTTP(w, r)
				return
			case strings.HasSuffix(r.URL.Path, "/o/run/staging/object/compose"):
				t.Error("the final compose was sent after the cancel")
			case gcstest.ObjectDeletes(r):
				mu.Lock()
				deletes++
				mu.Unlock()
			default:
				next.ServeHTTP(w, r)
				return
			}
			// The server notices the client hanging up only once it
			// has read the request body.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		})
	})
	_, err = b.Compose(ctx, "staging/object", parts, Attrs{})
	if status.Code(err) != codes.Canceled {
		t.Errorf("Compose: %v, want CANCELLED", err)
	}
	srv.Use()
	mu.Lock()
	if deletes == 0 {
		t.Error("no intermediate object was deleted: the test proves nothing")
	}
	mu.Unlock()
	// What was not deleted lies under the composed object's name, where a
	// cleanup of the staging prefix finds it.
	left, err := b.List(context.Background(), "staging/object")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || !strings.HasPrefix(left[0].Name, "staging/object.compose-") {
		t.Errorf("left behind %+v, want the two intermediate objects", left)
	}
}
