// Package field reports an input that is wrong by the value it was given
// in, not by the flag, environment variable or request field that carried
// it: the libraries that check inputs (formats, export and its packages)
// are used by a command line, a Cloud Run job and an API, and each front
// door names the same value differently (--to, PUBEXPORT_TO, destination).
// A library returns an *Error naming the value in its own words ("format",
// "destination"); the front door finds it with errors.As and says it in
// its own (see Error.Named).
//
// The package imports no RPC library on purpose: a library that has no
// other reason to know gRPC (formats) can still say what was wrong.
// Libraries that attach gRPC codes wrap an *Error as the cause of an
// INVALID_ARGUMENT (or NOT_FOUND, ...) error. It lives under formats, the
// lowest layer, so that every layer above can use it; echo.go bounds the
// values that any message repeats back.
package field

import "strings"

// Names of the values the libraries check, shared so that the front doors
// map each one once.
const (
	Organization  = "organization"
	Resource      = "resource"
	Format        = "format"
	Compression   = "compression"
	CSVDelimiter  = "csv.delimiter"
	CSVOptions    = "csv"
	Destination   = "destination"
	ApigeeURL     = "apigee_url"
	MaxObjectSize = "max_object_size"
	// Store is the operation store's URI (not a request field: the
	// server's or the job's configuration).
	Store = "store"
)

// Error is a value that cannot be used, modelled on encoding/csv's
// ParseError: a small struct a caller can inspect, with an Error method
// for everyone else.
type Error struct {
	// Field names the value in the library's words: one of the constants
	// above (they are the export request's field names).
	Field string
	// Value is the value given, "" when it was missing.
	Value string
	// Problem says what is wrong with it, usually quoting it, for example
	// `"xml" is not supported`.
	Problem string
	// Valid says what would be accepted or how to fix it, for example
	// "use one of json, ndjson, csv, parquet". It may be empty.
	Valid string
	// Err is the underlying error, if any.
	Err error
}

// Error is the message with the field under its library name, for example
// `format: "xml" is not supported; use one of json, ndjson, csv, parquet`.
func (e *Error) Error() string { return e.Named(e.Field) }

// Named is the message with the field called name: a front door passes its
// own name for it, such as "--format" or "PUBEXPORT_FORMAT".
func (e *Error) Named(name string) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteString(": ")
	b.WriteString(e.Description())
	return b.String()
}

// Description is the message without the field's name: what is wrong and
// what is valid, as a google.rpc.BadRequest.FieldViolation describes it.
func (e *Error) Description() string {
	d := e.Problem
	if e.Valid != "" {
		d += "; " + e.Valid
	}
	if e.Err != nil {
		d += " (" + e.Err.Error() + ")"
	}
	return d
}

func (e *Error) Unwrap() error { return e.Err }
