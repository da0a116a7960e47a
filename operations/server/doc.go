// Package server serves pubexport's export operations to clients over one
// plaintext port: gRPC (google.longrunning.Operations plus the
// pubexport.v1.ExportService trigger) and REST/JSON shaped like Google's own
// APIs, so that the official cloud.google.com/go/longrunning clients, curl and
// Apigee-style tooling all work against it.
//
// The two transports share one core (service.go) that validates names and
// applies authorization, so they cannot drift apart: a caller sees the same
// operations, the same errors and the same codes whichever transport it uses.
//
// Names: operations are "organizations/{org}/operations/{id}". A List parent
// may be given as "organizations/{org}" or "organizations/{org}/operations";
// the official REST client needs the second form, because it sends
// GET /v1/{name}. Its WaitOperation is broken (it sends GET /?name=...):
// REST callers poll Get, or POST .../operations/{id}:wait.
//
// The server depends on the operation manager only through the small
// [Operations] interface, which keeps it testable without a store or an
// export behind it.
//
// Authorization rules (see [Auth]):
//   - no or an invalid credential: UNAUTHENTICATED (HTTP 401);
//   - reading, cancelling, deleting or waiting for an operation of an
//     organization the caller does not cover: NOT_FOUND (HTTP 404), with the
//     same message as for an operation that does not exist, so a caller cannot
//     probe for other organizations' operation ids;
//   - listing an organization the caller does not cover: an empty list, for
//     the same reason; listed operations are also filtered one by one;
//   - starting an export in an organization the caller does not cover:
//     PERMISSION_DENIED (HTTP 403). A trigger names the organization
//     itself, so saying "not yours" reveals nothing, and NOT_FOUND would
//     wrongly suggest the organization does not exist.
package server
