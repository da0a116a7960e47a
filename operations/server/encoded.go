package server

import (
	"sync"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// maxEncoded bounds the JSON encoding cache: pollers ask for the few
// operations in progress over and over, and an entry is a few KB.
const maxEncoded = 256

// jsonCache keeps the JSON of the operations REST answered lately, keyed by
// their deterministic binary encoding. Encoding an operation to JSON
// (protojson, resolving the Anys of its metadata and response) is most of a
// REST GetOperation's work; its binary encoding is a fraction of that. Equal
// binary encodings are equal operations, so a hit is the right answer
// whatever happened in between: there is nothing to invalidate.
type jsonCache struct {
	mu      sync.Mutex
	entries map[string][]byte
}

// marshal returns the JSON of op, from the cache when op's binary encoding
// was seen before. The result must not be changed.
func (c *jsonCache) marshal(op *longrunningpb.Operation) ([]byte, error) {
	key, err := proto.MarshalOptions{Deterministic: true}.Marshal(op)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	b, ok := c.entries[string(key)]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err = protojson.Marshal(op)
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string][]byte)
	}
	if len(c.entries) >= maxEncoded {
		for k := range c.entries { // an arbitrary one: pollers come back for theirs
			delete(c.entries, k)
			break
		}
	}
	c.entries[string(key)] = b
	return b, nil
}
