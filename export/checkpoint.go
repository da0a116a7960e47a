package export

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/apigee"
	"pubexport/export/sink"
)

// Checkpoint is what a run needs to continue after its process died: where
// the source stands, the objects already published, the current object's
// closed staging parts with the hash state of the bytes in them, and the
// keys of the records exported so far. It is plain JSON so that any store
// can keep it; the keys, which grow with the export, are in staging objects
// it names, so that it stays small.
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
	// Overlaps are apps an apps pass listed after an earlier one, by
	// design (apigee.Page.Overlaps); Total counts them, Records does not.
	Overlaps int64 `json:"overlaps,omitempty"`
	// TotalAll says that Total counts every app itself (apigee.Page.TotalAll),
	// so the Overlaps are not taken from it.
	TotalAll bool `json:"totalAll,omitempty"`
	// Warnings are the source's, merged by text (apigee.MergeWarnings).
	Warnings []apigee.Warning `json:"warnings,omitempty"`

	Published []Object `json:"published,omitempty"`

	// The object being written.
	ObjectIndex   int         `json:"objectIndex"`
	ObjectRecords int64       `json:"objectRecords"`
	Parts         []string    `json:"parts,omitempty"`
	Digest        digestState `json:"digest"`

	// The records exported so far, for deduplication: the source drops a
	// record it delivered before, and a record it returns both before and
	// after the checkpoint (an app revoked during the export is listed in
	// both status passes) must be dropped by the resumed run too, or it
	// would be exported twice. KeySeed (hex) keys the hash of record keys;
	// KeyParts name the staging objects that hold the hashes, as
	// little-endian uint64s, one part per checkpoint that had new ones;
	// Keys counts them.
	KeySeed  string   `json:"keySeed,omitempty"`
	KeyParts []string `json:"keyParts,omitempty"`
	Keys     int64    `json:"keys,omitempty"`

	// Spilled is what the readers of later apps passes had spilled by the
	// checkpoint's page (apigee.Page.Spilled): staging objects a resumed
	// run reads instead of asking Apigee for their pages again. A few
	// numbers per pass, however many pages were spilled.
	Spilled *apigee.Spilled `json:"spilled,omitempty"`
}

// checkpointVersion 2 added the key parts. A version 1 checkpoint is
// refused: resuming it without the keys it lacks could export a record
// twice, breaking the promise that a resumed run writes a clean run's bytes.
// Version 3 lists apps in four status and keyStatus passes instead of two:
// an older cursor would skip the passes it did not know.
// Version 4 added Spilled and a checksum to every spilled page. A version 3
// checkpoint is still resumed: it names no spills, so the later apps passes
// are read again from their start, as that version did, and spills it left
// are overwritten before they are read.
const checkpointVersion = 4

// oldestCheckpointVersion is the oldest checkpoint a run resumes.
const oldestCheckpointVersion = 3

// keyTracker is a source listing whose deduplication a checkpoint can carry
// across a resume (*apigee.Lister).
type keyTracker interface {
	TrackKeys(seed apigee.KeySeed)
	Seen(hashes []uint64)
	TakeNewKeys() []uint64
}

func newKeySeed() string {
	s := apigee.NewKeySeed()
	return hex.EncodeToString(s[:])
}

func parseKeySeed(s string) (apigee.KeySeed, error) {
	var seed apigee.KeySeed
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(seed) {
		return seed, fmt.Errorf("key seed %q is not %d hex bytes", s, len(seed))
	}
	copy(seed[:], b)
	return seed, nil
}

// writeKeys stores hashes in a new staging object, name.
func writeKeys(ctx context.Context, b sink.Bucket, name string, hashes []uint64) error {
	w, err := b.NewWriter(ctx, name, sink.Attrs{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("creating staging object %s: %w", name, err)
	}
	buf := make([]byte, 0, 8*len(hashes))
	for _, h := range hashes {
		buf = binary.LittleEndian.AppendUint64(buf, h)
	}
	if _, err := w.Write(buf); err != nil {
		w.Abort()
		return fmt.Errorf("writing staging object %s: %w", name, err)
	}
	if _, err := w.Close(); err != nil {
		return fmt.Errorf("completing staging object %s: %w", name, err)
	}
	return nil
}

// restoreKeys reads the key parts a checkpoint names, in order, and hands
// their hashes to t a chunk at a time, so that resuming costs one sequential
// read and no more memory than the key set itself.
func restoreKeys(ctx context.Context, b sink.Bucket, cp *Checkpoint, t keyTracker) error {
	if cp.KeySeed == "" {
		if len(cp.KeyParts) > 0 {
			return status.Errorf(codes.FailedPrecondition, "cannot resume: the checkpoint names %d key parts but no key seed; start a new export", len(cp.KeyParts))
		}
		return nil
	}
	seed, err := parseKeySeed(cp.KeySeed)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "cannot resume: %v; start a new export", err)
	}
	t.TrackKeys(seed)
	var n int64
	chunk := make([]uint64, 0, 8192)
	for _, name := range cp.KeyParts {
		r, err := b.NewReader(ctx, name)
		if err != nil {
			return fmt.Errorf("reading the keys of the interrupted run: %w", err)
		}
		br := bufio.NewReaderSize(r, 64<<10)
		var word [8]byte
		for {
			_, err = io.ReadFull(br, word[:])
			if err != nil {
				break
			}
			chunk = append(chunk, binary.LittleEndian.Uint64(word[:]))
			if len(chunk) == cap(chunk) {
				t.Seen(chunk)
				n += int64(len(chunk))
				chunk = chunk[:0]
			}
		}
		r.Close()
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return status.Errorf(codes.DataLoss, "cannot resume: staging object %s holds a partial key (its size is not a multiple of 8); start a new export", name)
		case !errors.Is(err, io.EOF):
			return fmt.Errorf("reading staging object %s: %w", name, err)
		}
	}
	t.Seen(chunk)
	n += int64(len(chunk))
	if n != cp.Keys {
		return status.Errorf(codes.DataLoss, "cannot resume: the key parts of the checkpoint hold %d keys, it recorded %d; start a new export", n, cp.Keys)
	}
	return nil
}
