// Package emulator is an in-memory stand-in for the parts of the Apigee
// management API (apigee.googleapis.com/v1) that pubexport reads: the
// organization, developers, org-wide apps and API products, plus the developer
// write methods that tests and demos use to change data between runs.
//
// It exists so that exports can be developed, tested and benchmarked offline
// and reproducibly. It therefore copies the behaviour that makes real exports
// hard rather than an idealised API: startKey paging is inclusive (each
// follow-up page starts with the previous page's last record), page sizes are
// capped at 1000 (400 above the cap for count, silently coerced for pageSize
// and rows), apps are filtered to status=approved unless asked otherwise,
// nextPageToken appears only when the caller asked for token paging and is,
// as documented, an index into the list as it is now, written as a plain
// decimal number (so apps deleted or revoked before it shift it;
// Options.AppsPaging plays the same index in an opaque token, a stable
// cursor and an organization older than 1.10 without token paging), expand=false
// answers with Apigee X's one-field wrapper objects, and errors come in
// Google's JSON error shape. Options add latency, deterministic 429/503 faults
// and a per-minute rate limit so that clients' retry and throttling code runs.
//
// Records are served from protojson bytes rendered once per record and cached
// (on first use, or all before serving with Options.Prerender), so a page is a
// concatenation of cached bytes; that keeps the emulator out of the way when a
// benchmark pushes hundreds of thousands of records through it.
package emulator
