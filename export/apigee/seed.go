package apigee

import "pubexport/export/apigee/internal/keyset"

// KeySeed keys the hash under which a listing remembers the records it
// delivered. It is random per export and kept in the export's checkpoints:
// a listing resumed with the same seed and the hashes the interrupted one
// delivered (see Lister.TrackKeys) recognises the records that listing
// exported, so a record the API returns again after the resume point is
// exported once, as in a run that never stopped.
type KeySeed = keyset.Seed

// NewKeySeed returns a random seed.
func NewKeySeed() KeySeed { return keyset.NewSeed() }
