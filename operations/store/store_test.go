package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/export/exporttest"
	"pubexport/export/sink/gcstest"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// backend makes Stores that share one backing: two of them behave like two
// processes pointed at the same folder or bucket.
type backend func(t testing.TB) func() store.Store

func localBackend(t testing.TB) func() store.Store {
	dir := t.TempDir()
	return func() store.Store {
		s, err := store.Local(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func gcsBackend(t testing.TB) func() store.Store {
	srv := gcstest.Start(t, "ops")
	return func() store.Store {
		return store.GCS(srv.NewClient(t).Bucket("ops"), "dest/.pubexport")
	}
}

var backends = map[string]backend{"local": localBackend, "gcs": gcsBackend}

// conformance runs test against every backend.
func conformance(t *testing.T, test func(t *testing.T, open func() store.Store)) {
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, b(t))
		})
	}
}

func record(t testing.TB, name string, attempts int32) *operationspb.OperationRecord {
	t.Helper()
	op, err := anypb.New(&longrunningpb.Operation{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return &operationspb.OperationRecord{
		Operation:  op,
		Request:    &operationspb.ExportRequest{Parent: "organizations/acme", Resource: "apps", RequestId: "r-1"},
		Attempts:   attempts,
		CreateTime: timestamppb.New(timestamppb.Now().AsTime()),
		Checkpoint: []byte(`{"version":1}`),
	}
}

// wantCode: see exporttest.Code.
var wantCode = exporttest.Code

const opName = "organizations/acme/operations/0190c1f4-7a1b-7c3d-8e4f-000000000001"

func TestRecordLifecycle(t *testing.T) {
	conformance(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		s := open()

		_, _, err := s.Get(ctx, opName)
		wantCode(t, err, codes.NotFound)

		rec := record(t, opName, 1)
		gen, err := s.Create(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		got, g, err := s.Get(ctx, opName)
		if err != nil {
			t.Fatal(err)
		}
		if g != gen || !proto.Equal(got, rec) {
			t.Fatalf("Get = %v (gen %d), want %v (gen %d)", got, g, rec, gen)
		}
		_, err = s.Create(ctx, record(t, opName, 7))
		wantCode(t, err, codes.AlreadyExists)

		rec.Attempts = 2
		gen2, err := s.Update(ctx, rec, gen)
		if err != nil {
			t.Fatal(err)
		}
		if gen2 == gen {
			t.Fatalf("Update kept generation %d", gen)
		}
		rec.Attempts = 3
		_, err = s.Update(ctx, rec, gen) // stale
		wantCode(t, err, codes.Aborted)
		got, g, err = s.Get(ctx, opName)
		if err != nil {
			t.Fatal(err)
		}
		if g != gen2 || got.GetAttempts() != 2 {
			t.Fatalf("after a stale update: attempts %d gen %d, want 2 gen %d", got.GetAttempts(), g, gen2)
		}

		if err := s.Delete(ctx, opName); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.Get(ctx, opName)
		wantCode(t, err, codes.NotFound)
		wantCode(t, s.Delete(ctx, opName), codes.NotFound)

		// Updating a deleted record must not bring it back.
		_, err = s.Update(ctx, rec, gen2)
		if c := status.Code(err); c != codes.NotFound && c != codes.Aborted {
			t.Fatalf("Update of a missing record: %v, want NOT_FOUND or ABORTED", err)
		}
		_, _, err = s.Get(ctx, opName)
		wantCode(t, err, codes.NotFound)
	})
}

func TestInvalidNames(t *testing.T) {
	conformance(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		s := open()
		for _, name := range []string{
			"", "operations/x", "organizations/acme/operations/",
			"organizations/../operations/x", "organizations/acme/operations/../../x",
			"organizations/acme/operations/a/b", "/organizations/acme/operations/x",
		} {
			_, _, err := s.Get(ctx, name)
			wantCode(t, err, codes.InvalidArgument)
			wantCode(t, s.Delete(ctx, name), codes.InvalidArgument)
			_, err = s.Create(ctx, record(t, name, 1))
			wantCode(t, err, codes.InvalidArgument)
		}
		for _, parent := range []string{"organizations/", "organizations/a/b", "acme", "organizations/../x"} {
			_, err := s.List(ctx, parent)
			wantCode(t, err, codes.InvalidArgument)
		}
	})
}

func TestList(t *testing.T) {
	conformance(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		s := open()
		want := map[string][]string{}
		for i, org := range []string{"acme", "globex", "acme", "acme", "globex"} {
			name := fmt.Sprintf("organizations/%s/operations/op-%02d", org, 5-i)
			if _, err := s.Create(ctx, record(t, name, 1)); err != nil {
				t.Fatal(err)
			}
			want[org] = append([]string{name}, want[org]...) // created in descending id order
		}
		// A request claim lives in the same root and must not be listed.
		if _, err := s.ClaimRequest(ctx, "organizations/acme", "req", want["acme"][0]); err != nil {
			t.Fatal(err)
		}
		for org, names := range want {
			got, err := s.List(ctx, "organizations/"+org)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(names) {
				t.Errorf("List(%s) = %v, want %v", org, got, names)
			}
		}
		all, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 5 {
			t.Errorf("List(all) = %v, want 5 names", all)
		}
		none, err := s.List(ctx, "organizations/initech")
		if err != nil || len(none) != 0 {
			t.Errorf("List of an organization without operations = %v, %v", none, err)
		}
	})
}

func TestRequestClaims(t *testing.T) {
	conformance(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		s := open()
		const a, b = "organizations/acme/operations/a", "organizations/acme/operations/b"
		claim := func(parent, id, name, want string) {
			t.Helper()
			got, err := s.ClaimRequest(ctx, parent, id, name)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("ClaimRequest(%s, %s, %s) = %s, want %s", parent, id, name, got, want)
			}
		}
		claim("organizations/acme", "id/with spaces & ../", a, a)
		claim("organizations/acme", "id/with spaces & ../", b, a)
		claim("organizations/globex", "id/with spaces & ../", b, b) // ids are per parent
		if err := s.ReleaseRequest(ctx, "organizations/acme", "id/with spaces & ../", b); err != nil {
			t.Fatal(err)
		}
		claim("organizations/acme", "id/with spaces & ../", b, a) // b does not own it: still a's
		if err := s.ReleaseRequest(ctx, "organizations/acme", "id/with spaces & ../", a); err != nil {
			t.Fatal(err)
		}
		claim("organizations/acme", "id/with spaces & ../", b, b)
		if err := s.ReleaseRequest(ctx, "organizations/acme", "never-claimed", a); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRacingWriters: two stores (two processes) read the same generation
// and both update it; exactly one wins, every round.
func TestRacingWriters(t *testing.T) {
	conformance(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		s1, s2 := open(), open()
		gen, err := s1.Create(ctx, record(t, opName, 0))
		if err != nil {
			t.Fatal(err)
		}
		for round := range 10 {
			var wins, conflicts atomic.Int32
			var wg sync.WaitGroup
			for i, s := range []store.Store{s1, s2} {
				wg.Go(func() {
					_, err := s.Update(ctx, record(t, opName, int32(100*round+i)), gen)
					switch status.Code(err) {
					case codes.OK:
						wins.Add(1)
					case codes.Aborted:
						conflicts.Add(1)
					default:
						t.Errorf("round %d: %v", round, err)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 || conflicts.Load() != 1 {
				t.Fatalf("round %d: %d writers won, %d conflicted; want 1 and 1", round, wins.Load(), conflicts.Load())
			}
			var g int64
			if _, g, err = s1.Get(ctx, opName); err != nil {
				t.Fatal(err)
			}
			gen = g
		}
	})
}

// TestNoLostUpdates: writers that retry on ABORTED never lose an increment.
func TestNoLostUpdates(t *testing.T) {
	conformance(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		if _, err := open().Create(ctx, record(t, opName, 0)); err != nil {
			t.Fatal(err)
		}
		const writers, increments = 4, 8
		var wg sync.WaitGroup
		for range writers {
			s := open()
			wg.Go(func() {
				for range increments {
					for {
						rec, gen, err := s.Get(ctx, opName)
						if err != nil {
							t.Error(err)
							return
						}
						rec.Attempts++
						_, err = s.Update(ctx, rec, gen)
						if status.Code(err) == codes.Aborted {
							continue
						}
						if err != nil {
							t.Error(err)
							return
						}
						break
					}
				}
			})
		}
		wg.Wait()
		rec, _, err := open().Get(ctx, opName)
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetAttempts() != writers*increments {
			t.Fatalf("counter = %d, want %d", rec.GetAttempts(), writers*increments)
		}
	})
}

// TestRacingCreates: of several creators of one name, and of several
// claimants of one request id, exactly one wins and all agree on it.
func TestRacingCreates(t *testing.T) {
	conformance(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		const n = 6
		var created atomic.Int32
		owners := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			s := open()
			wg.Go(func() {
				_, err := s.Create(ctx, record(t, opName, int32(i)))
				switch status.Code(err) {
				case codes.OK:
					created.Add(1)
				case codes.AlreadyExists:
				default:
					t.Error(err)
				}
				owners[i], err = s.ClaimRequest(ctx, "organizations/acme", "same", fmt.Sprintf("organizations/acme/operations/op-%d", i))
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if created.Load() != 1 {
			t.Fatalf("%d creators succeeded, want 1", created.Load())
		}
		for i := range owners {
			if owners[i] != owners[0] || owners[i] == "" {
				t.Fatalf("claimants disagree on the owner: %q", owners)
			}
		}
	})
}
