package operations_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	"pubexport/export/apigee/emulator"
)

// TestList: newest first, pages that chain through opaque tokens, filters,
// and INVALID_ARGUMENT for what it does not understand.
func TestList(t *testing.T) {
	for _, b := range []backend{local, gcs} {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b, small, emulator.Options{})
			ctx := context.Background()
			m := e.manager("lister")
			var created []string // oldest first
			for _, r := range []string{"developers", "apps", "apiproducts", "apps", "developers"} {
				op, err := m.Create(ctx, e.request(r, "json"))
				if err != nil {
					t.Fatal(err)
				}
				created = append(created, op.GetName())
			}
			if err := m.Cancel(ctx, created[1]); err != nil {
				t.Fatal(err)
			}
			other, err := m.Create(ctx, func() *operationsReq { r := e.request("apps", "json"); r.Parent = "organizations/globex"; return r }())
			if err != nil {
				t.Fatal(err)
			}

			// Pages of 2, newest first.
			var got []string
			token := ""
			for range 10 {
				ops, next, err := m.List(ctx, "organizations/acme", "", 2, token)
				if err != nil {
					t.Fatal(err)
				}
				if len(ops) > 2 {
					t.Fatalf("page of %d, asked for 2", len(ops))
				}
				for _, op := range ops {
					got = append(got, op.GetName())
				}
				if token = next; token == "" {
					break
				}
			}
			want := []string{created[4], created[3], created[2], created[1], created[0]}
			if len(got) != len(want) {
				t.Fatalf("listed %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("listed %v, want %v (newest first)", got, want)
				}
			}

			count := func(filter string) int {
				t.Helper()
				ops, _, err := m.List(ctx, "organizations/acme", filter, 0, "")
				if err != nil {
					t.Fatal(err)
				}
				return len(ops)
			}
			for filter, n := range map[string]int{
				"done=true":                   1,
				"done = false":                4,
				"metadata.state=NOT_STARTED":  4,
				"metadata.state=\"FINISHED\"": 1,
				"error.code=1":                1,
				"done=false AND metadata.targetResourceName=organizations/acme/apps":         1,
				"metadata.target_resource_name=organizations/acme/developers and done=false": 2,
			} {
				if got := count(filter); got != n {
					t.Errorf("filter %q: %d operations, want %d", filter, got, n)
				}
			}
			if ops, _, err := m.List(ctx, "organizations/globex", "", 0, ""); err != nil || len(ops) != 1 || ops[0].GetName() != other.GetName() {
				t.Fatalf("globex: %v %v", ops, err)
			}

			for _, filter := range []string{"name=x", "done=maybe", "metadata.state=RUNNING", "done", "done!=true", "done=true OR done=false"} {
				_, _, err := m.List(ctx, "organizations/acme", filter, 0, "")
				wantCode(t, err, codes.InvalidArgument, "filter")
			}
			_, next, err := m.List(ctx, "organizations/acme", "done=false", 1, "")
			if err != nil || next == "" {
				t.Fatalf("first page: %q %v", next, err)
			}
			for _, c := range []struct{ parent, filter, token string }{
				{"organizations/acme", "done=false", "not a token"},
				{"organizations/acme", "", next},             // another filter
				{"organizations/globex", "done=false", next}, // another parent
			} {
				_, _, err := m.List(ctx, c.parent, c.filter, 0, c.token)
				wantCode(t, err, codes.InvalidArgument, "page_token")
			}
			_, _, err = m.List(ctx, "acme", "", 0, "")
			wantCode(t, err, codes.InvalidArgument, "organizations/")
			_, _, err = m.List(ctx, "organizations/acme", "", -1, "")
			wantCode(t, err, codes.InvalidArgument, "page_size")
		})
	}
}
