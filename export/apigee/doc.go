// Package apigee reads Apigee publishing data (developers, apps, API
// products) from the Apigee management API, one page at a time, asking for
// the next page while the current one is decoded and used.
//
// It exists because the API's list methods are easy to page wrongly: the
// key-paged lists (developers, apiproducts) repeat the startKey record at the
// top of every follow-up page, silently stop at 1000 records when not paged,
// and the token-paged apps list hides revoked apps unless asked for them. A
// Lister deals with all of that and yields each record exactly once, with a
// Cursor that a checkpoint can keep so that an interrupted export resumes
// where it stopped.
//
// Every error a caller sees carries a gRPC code (google.golang.org/grpc/status)
// and says what to fix.
package apigee
