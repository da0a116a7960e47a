// Package exporttest is the test harness the tests of several packages
// share, so that each piece is written, and fixed, once: an Apigee
// emulator serving seeded data with an API client pointed at it, a buffer
// safe for a command's concurrent writes, waiting for a condition or for an
// operation to end, and the assertions every bad input gets (the gRPC code,
// the words that say what to fix).
//
// Cloud Storage has its own harness beside the sink it tests
// (export/sink/gcstest). Like everything under export, this package knows
// nothing of operations or the command: it takes what it needs of them
// through small interfaces (Getter).
package exporttest
