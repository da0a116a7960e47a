// Package export runs one export: one resource of one Apigee organization, in
// one format, to one destination.
//
// The data path is source -> redaction -> encoder -> hashing writer -> staging
// object -> published final:
//
//   - the source is the Apigee management API (package apigee), paged on its
//     own goroutine so that fetching the next page overlaps encoding and
//     uploading the current one;
//   - consumer secrets are cleared unless the spec asks for them;
//   - the encoder (package formats) streams records into a writer that hashes
//     (SHA-256 and CRC32C) and counts every byte on its way to a staging
//     object in the destination (package sink);
//   - when an object is complete it is published under its content hash as
//     ExportFinal_<sha256>.<ext> by a server-side copy that never overwrites, so
//     the final name never refers to a partial object, and the staging objects
//     are deleted.
//
// Every few pages the run cuts its staging object into a part and records a
// Checkpoint (source cursor, parts, hash states). A run given that checkpoint
// continues where the first one stopped and produces byte-identical objects.
// Parquet cannot be continued (its footer describes the whole file), so a
// Parquet run restarts from the beginning instead.
package export
