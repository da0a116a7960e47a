package operations

import (
	"sync"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"

	"pubexport/operations/operationspb"
)

// maxAnswers bounds a Manager's decoded operations. Pollers ask for the
// few operations in progress over and over; an operation is a few KB, so
// the bound keeps the cache to a few MB whatever the store holds.
const maxAnswers = 256

// answers keeps, by name, the operation decoded from the record the store
// last lent out (store.Peek), so that polling an unchanged record neither
// copies the record nor decodes the operation in it again: that was most
// of what a GetOperation answered from the store cost the server.
//
// The key is the record itself, not its generation. A store lends out the
// same record only while its content is unchanged, and any change is a new
// record; a generation alone could repeat (a local record deleted and
// created again starts over at 1). The cached record is held, so its
// pointer cannot be reused for another while the entry lives.
//
// The operations are shared by every caller of Manager.Get and never
// changed once cached: callers must not change them either.
type answers struct {
	mu      sync.Mutex
	entries map[string]answer
}

type answer struct {
	rec *operationspb.OperationRecord
	op  *longrunningpb.Operation
}

// of returns the operation rec holds, decoded once per record.
func (a *answers) of(name string, rec *operationspb.OperationRecord) (*longrunningpb.Operation, error) {
	a.mu.Lock()
	e, ok := a.entries[name]
	a.mu.Unlock()
	if ok && e.rec == rec {
		return e.op, nil
	}
	op, err := operationOf(rec)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.entries == nil {
		a.entries = make(map[string]answer)
	}
	if _, ok := a.entries[name]; !ok && len(a.entries) >= maxAnswers {
		for k := range a.entries { // an arbitrary one: pollers come back for theirs
			delete(a.entries, k)
			break
		}
	}
	a.entries[name] = answer{rec: rec, op: op}
	return op, nil
}

// forget drops name's entry (the operation was deleted).
func (a *answers) forget(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.entries, name)
}
