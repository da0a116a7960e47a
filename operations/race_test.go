package operations_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"pubexport/export/apigee/emulator"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// TestResumeRaceLoserFailedPrecondition: two processes start the same
// operation at once; the one whose lease write loses the race (another
// took the lease between its read and its write) answers
// FAILED_PRECONDITION naming the winner, as the README promises, and leaves
// the record to it.
func TestResumeRaceLoserFailedPrecondition(t *testing.T) {
	e := newEnv(t, local, emulator.GenerateSpec{Developers: 5, Seed: 1}, emulator.Options{})
	var once sync.Once
	m := e.manager("loser", func(c *operations.Config) {
		c.Store = &hooked{Store: e.store(), beforeUpdate: func(_ context.Context, rec *operationspb.OperationRecord) error {
			once.Do(func() {
				name, _ := store.RecordName(rec)
				e.leaveFor(name, "winner", time.Now().Add(time.Hour))
			})
			return nil
		}}
	})
	op, err := m.Create(context.Background(), e.request("developers", "json"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Run(context.Background(), op.GetName())
	wantCode(t, err, codes.FailedPrecondition, "winner")
	if rec, _ := e.record(op.GetName()); rec.GetLeaseHolder() != "winner" {
		t.Fatalf("the loser changed the record: holder %q", rec.GetLeaseHolder())
	}
}
