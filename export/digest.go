package export

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// digest hashes an object's bytes as they stream past, with SHA-256 for the
// object's name and CRC32C for the manifest (the checksum Cloud Storage keeps).
// Its state can be saved in a checkpoint and restored in another process:
// both standard-library hashes implement encoding.BinaryMarshaler.
type digest struct {
	sha  hash.Hash
	crc  hash.Hash32
	size int64
}

func newDigest() *digest {
	return &digest{sha: sha256.New(), crc: crc32.New(castagnoli)}
}

// Write never fails.
func (d *digest) Write(p []byte) (int, error) {
	d.sha.Write(p)
	d.crc.Write(p)
	d.size += int64(len(p))
	return len(p), nil
}

func (d *digest) sum() (sha string, crc uint32) {
	return hex.EncodeToString(d.sha.Sum(nil)), d.crc.Sum32()
}

// digestState is the serialisable form of a digest.
type digestState struct {
	SHA256 []byte `json:"sha256"`
	CRC32C []byte `json:"crc32c"`
	Size   int64  `json:"size"`
}

func (d *digest) state() (digestState, error) {
	s, err := d.sha.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return digestState{}, fmt.Errorf("saving the SHA-256 state: %w", err)
	}
	c, err := d.crc.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return digestState{}, fmt.Errorf("saving the CRC32C state: %w", err)
	}
	return digestState{SHA256: s, CRC32C: c, Size: d.size}, nil
}

func restoreDigest(s digestState) (*digest, error) {
	d := newDigest()
	if err := d.sha.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.SHA256); err != nil {
		return nil, fmt.Errorf("restoring the SHA-256 state: %w", err)
	}
	if err := d.crc.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.CRC32C); err != nil {
		return nil, fmt.Errorf("restoring the CRC32C state: %w", err)
	}
	d.size = s.Size
	return d, nil
}
