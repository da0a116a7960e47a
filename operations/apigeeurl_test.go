package operations_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"pubexport/export/apigee/emulator"
)

// TestApigeeURLPasswordStaysInMemory: the record of an export whose
// apigee_url has a password keeps the URL redacted; the process that was
// given it runs the export with basic authentication; another process
// cannot, and says so without touching the operation, until it is given
// the URL (KeepApigeeURL, `operations resume --apigee-url`).
func TestApigeeURLPasswordStaysInMemory(t *testing.T) {
	var unauthenticated atomic.Int64
	e := newEnv(t, local, emulator.GenerateSpec{Developers: 30, Seed: 2}, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if _, p, ok := r.BasicAuth(); ok && p == "pw-9d1c" {
			return false
		}
		unauthenticated.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}})
	req := e.request("developers", "ndjson")
	full := strings.Replace(e.emu.URL, "http://", "http://ops:pw-9d1c@", 1)
	req.ApigeeUrl = full
	ctx := context.Background()

	creator := e.manager("creator")
	op, err := creator.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := e.record(op.GetName())
	if b, _ := protojson.Marshal(rec); strings.Contains(string(b), "pw-9d1c") || rec.GetRequest().GetApigeeUrl() != strings.Replace(full, "pw-9d1c", "xxxxx", 1) {
		t.Fatalf("record keeps apigee_url %q", rec.GetRequest().GetApigeeUrl())
	}

	other := e.manager("other")
	_, err = other.Run(ctx, op.GetName())
	wantCode(t, err, codes.FailedPrecondition, "password", "Apigee URL")
	if rec2, _ := e.record(op.GetName()); rec2.GetAttempts() != 0 || rec2.GetLeaseHolder() != "" {
		t.Fatalf("the refused run touched the record: attempts %d holder %q", rec2.GetAttempts(), rec2.GetLeaseHolder())
	}
	if err := other.Recover(ctx); err != nil {
		t.Fatal(err)
	}

	other.KeepApigeeURL(full)
	done, err := other.Run(ctx, op.GetName())
	if err != nil {
		t.Fatal(err)
	}
	e.checkResponse(done, 30)
	if n := unauthenticated.Load(); n != 0 {
		t.Fatalf("%d requests without the password", n)
	}
	rec, _ = e.record(op.GetName())
	if b, _ := protojson.Marshal(rec); strings.Contains(string(b), "pw-9d1c") {
		t.Fatalf("the finished record holds the password: %s", b)
	}
}
