package store

import (
	"fmt"
	"testing"

	"pubexport/operations/operationspb"
)

// TestRecordCacheDecodesOnce checks that unchanged bytes are decoded once,
// changed bytes again, and that callers get copies.
func TestRecordCacheDecodesOnce(t *testing.T) {
	var c recordCache
	decodes := 0
	dec := func(b []byte) (*operationspb.OperationRecord, int64, error) {
		decodes++
		return &operationspb.OperationRecord{Attempts: int32(len(b))}, int64(len(b)), nil
	}
	for i, step := range []struct {
		raw         string
		wantDecodes int
	}{{"abc", 1}, {"abc", 1}, {"abcd", 2}, {"abcd", 2}, {"abc", 3}} {
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
		rec.Attempts = -1
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
