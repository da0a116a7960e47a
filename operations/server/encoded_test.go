package server

import (
	"context"
	"encoding/json"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TestGetSeesTheChange: an operation polled over and over (so its answers
// are cached) and then finished is seen finished by the next Get on both
// transports, and the cached REST answer is the JSON of the operation as
// it is.
func TestGetSeesTheChange(t *testing.T) {
	h := start(t, tokenAuth(t))
	name := h.ops.add("acme", "apps")
	grpcc := h.grpcClient(t, acmeToken)
	ctx := context.Background()
	restDone := func() (bool, []byte) {
		r := h.do(t, "GET", "/v1/"+name, acmeToken, "")
		r.want200(t)
		var op struct{ Done bool }
		if err := json.Unmarshal(r.body, &op); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		return op.Done, r.body
	}
	for range 3 {
		if done, _ := restDone(); done {
			t.Fatal("REST: done before it finished")
		}
		if op, err := grpcc.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}); err != nil || op.GetDone() {
			t.Fatalf("gRPC: %v, %v", op, err)
		}
	}
	h.ops.finish(name, 42)
	done, body := restDone()
	if !done {
		t.Errorf("REST: the next Get after the operation finished says not done: %s", body)
	}
	op, err := grpcc.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name})
	if err != nil || !op.GetDone() {
		t.Errorf("gRPC: the next Get after the operation finished: %v, %v", op, err)
	}
	// The answer REST served (from the cache on later calls) is the
	// operation's own JSON.
	want, _ := h.ops.Get(ctx, name)
	var got longrunningpb.Operation
	if err := protojson.Unmarshal(body, &got); err != nil || !proto.Equal(&got, want) {
		t.Errorf("REST answer %s is not the operation %v (%v)", body, want, err)
	}
	if _, again := restDone(); string(again) != string(body) {
		t.Errorf("a second Get of the finished operation answered other bytes:\n%s\n%s", again, body)
	}
}

// TestJSONCacheBounded: the cache keeps at most maxEncoded entries.
func TestJSONCacheBounded(t *testing.T) {
	var c jsonCache
	for i := range 3 * maxEncoded {
		op := &longrunningpb.Operation{Name: "organizations/acme/operations/" + string(rune('a'+i%26)) + string(rune('a'+i/26))}
		b, err := c.marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		var got longrunningpb.Operation
		if err := protojson.Unmarshal(b, &got); err != nil || got.GetName() != op.GetName() {
			t.Fatalf("entry %d: %s (%v)", i, b, err)
		}
	}
	if n := len(c.entries); n > maxEncoded {
		t.Errorf("%d entries, want at most %d", n, maxEncoded)
	}
}
