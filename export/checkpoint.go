package export

import (
	"time"

	"pubexport/export/apigee"
)

// Checkpoint is what a run needs to continue after its process died: where
// the source stands, the objects already published, and the current object's
// closed staging parts with the hash state of the bytes in them. It is plain
// JSON so that any store can keep it.
type Checkpoint struct {
	// Version guards against reading a checkpoint of another layout.
	Version int `json:"version"`
	// Fingerprint identifies the spec; a checkpoint is refused by a run of
	// another spec, whose bytes would not continue these.
	Fingerprint string `json:"fingerprint"`
	StagingID   string `json:"stagingId"`
	// Every is the number of pages between checkpoints; it fixes where gzip
	// members are cut, so a resumed run must keep the original's.
	Every   int           `json:"every"`
	Cursor  apigee.Cursor `json:"cursor"`
	Started time.Time     `json:"started"`

	Pages      int64 `json:"pages"`
	Records    int64 `json:"records"`
	Bytes      int64 `json:"bytes"`
	Duplicates int64 `json:"duplicates"`
	Unknown    int64 `json:"unknown"`
	Total      int64 `json:"total"`

	Published []Object `json:"published,omitempty"`

	// The object being written.
	ObjectIndex   int         `json:"objectIndex"`
	ObjectRecords int64       `json:"objectRecords"`
	Parts         []string    `json:"parts,omitempty"`
	Digest        digestState `json:"digest"`
}

const checkpointVersion = 1
