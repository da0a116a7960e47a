package store

import (
	"fmt"
	"testing"

	"pubexport/operations/operationspb"
)

// TestRecordCacheDecodesOnce checks that unchanged bytes are decoded once
// and answered with the very same record (which Peek relies on), and that
// changed bytes are decoded again into another record.
func TestRecordCacheDecodesOnce(t *testing.T) {
	var c recordCache
	decodes := 0
	dec := func(b []byte) (*operationspb.OperationRecord, int64, error) {
		decodes++
		return &operationspb.OperationRecord{Attempts: int32(len(b))}, int64(len(b)), nil
	}
	var last *operationspb.OperationRecord
	for i, step := range []struct {
		raw         string
		wantDecodes int
		wantSame    bool // the record of the step before
	}{{"abc", 1, false}, {"abc", 1, true}, {"abcd", 2, false}, {"abcd", 2, true}, {"abc", 3, false}} {
		rec, gen, err := c.decode("n", []byte(step.raw), dec)
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetAttempts() != int32(len(step.raw)) || gen != int64(len(step.raw)) {
			t.Errorf("step %d: got attempts %d, generation %d; want %d", i, rec.GetAttempts(), gen, len(step.raw))
		}
		if decodes != step.wantDecodes {
			t.Errorf("step %d: %d decodes, want %d", i, decodes, step.wantDecodes)
		}
		if same := rec == last; same != step.wantSame {
			t.Errorf("step %d: the record of the step before = %v, want %v", i, same, step.wantSame)
		}
		last = rec
	}
	for i := range maxCachedRecords + 10 {
		if _, _, err := c.decode(fmt.Sprint("op-", i), []byte("x"), dec); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.entries); n > maxCachedRecords {
		t.Errorf("cache holds %d records, want at most %d", n, maxCachedRecords)
	}
}
