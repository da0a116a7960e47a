// Package testdata embeds the repository's bundled data files so that
// binaries and tests in any package can use them without a path relative to
// the working directory (go:embed cannot reach parent directories).
package testdata

import _ "embed"

// SampleOrg is sample-org.json: a small hand-made Apigee organization "acme"
// in the emulator's seed format, with the awkward values real data has
// (unicode, commas, quotes, newlines, revoked apps and keys, an approved app
// whose keys are all revoked, an app without keys, every operation group
// kind).
//
//go:embed sample-org.json
var SampleOrg []byte
