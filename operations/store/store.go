// Package store keeps export operations where every process that serves or
// runs them can reach them: a Cloud Storage bucket (GCS) or a local folder
// (Local). There is no database: a Cloud Run job that runs an export and an
// API instance that answers GetOperation share the operation through its
// record, and optimistic concurrency (a generation per record, checked on
// every update) keeps two writers from clobbering each other.
//
// Layout, the same in both backends, under the store's root:
//
//	organizations/{org}/operations/{id}.json   one OperationRecord (protojson)
//	requests/{sha256(parent, request_id)}.json the operation a request_id started
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"pubexport/operations/operationspb"
)

// Store keeps OperationRecords. Every record has a generation that changes
// with each write; Update succeeds only if the caller read the current one.
//
// Errors carry gRPC codes: NOT_FOUND for a missing record, ALREADY_EXISTS
// when Create finds one, ABORTED when Update lost a race (read again, decide
// again), INVALID_ARGUMENT for a malformed name, UNAVAILABLE and others for
// the backend's own failures.
type Store interface {
	// Get returns the record named name and its generation.
	Get(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error)
	// Create writes a new record, named by its operation, unless one exists.
	Create(ctx context.Context, rec *operationspb.OperationRecord) (generation int64, err error)
	// Update replaces the record if its generation is still generation.
	Update(ctx context.Context, rec *operationspb.OperationRecord, generation int64) (newGeneration int64, err error)
	// Delete removes the record; a missing record is NOT_FOUND.
	Delete(ctx context.Context, name string) error
	// List returns the names of the operations under parent
	// ("organizations/{org}", or "" for every organization), sorted
	// ascending. Operation ids are time-ordered, so this is oldest first.
	List(ctx context.Context, parent string) ([]string, error)
	// ClaimRequest records that the request_id requestID of parent started
	// the operation name, unless the id was claimed before. It returns the
	// operation that owns the id: name, or the earlier one.
	ClaimRequest(ctx context.Context, parent, requestID, name string) (owner string, err error)
	// ReleaseRequest forgets requestID if it is claimed by name.
	ReleaseRequest(ctx context.Context, parent, requestID, name string) error
}

// Peeker is a Store that can lend out the records it keeps instead of
// copying them. Pollers read the same unchanged record over and over:
// copying it for every read is waste, and a caller that is handed the very
// record it saw before knows, without comparing, that nothing changed.
type Peeker interface {
	// Peek is Get without the copy. The record is shared with the store
	// and with other callers: it must not be changed. A record whose
	// content changed (any write, a deletion and re-creation) is always
	// another pointer; an unchanged one is usually the same pointer
	// again (not always: the store may have dropped it from its cache).
	Peek(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error)
}

// Peek returns st's record named name without copying it when st is a
// Peeker, and Get's copy otherwise. Either way the caller must not change it.
func Peek(ctx context.Context, st Store, name string) (*operationspb.OperationRecord, int64, error) {
	if p, ok := st.(Peeker); ok {
		return p.Peek(ctx, name)
	}
	return st.Get(ctx, name)
}

var parentRE = regexp.MustCompile(`^organizations/([A-Za-z0-9][A-Za-z0-9-]{0,62})$`)

// SplitName checks an operation name, organizations/{org}/operations/{id},
// and returns its parent and id. The check also keeps names from escaping
// the store's root ("..", extra slashes). Each segment is a letter or digit
// and then letters, digits or dashes, at most 63 (org) or 64 (id) bytes.
// (Written out rather than a regular expression: every poll checks a name
// two or three times, and the expression cost more than the rest of a
// cached read.)
func SplitName(name string) (parent, id string, err error) {
	rest, ok := strings.CutPrefix(name, "organizations/")
	org, id, ok2 := strings.Cut(rest, "/operations/")
	if !ok || !ok2 || !nameSegment(org, 63) || !nameSegment(id, 64) {
		return "", "", status.Errorf(codes.InvalidArgument, "invalid operation name %q: want organizations/{org}/operations/{id}", name)
	}
	return name[:len("organizations/")+len(org)], id, nil
}

// nameSegment reports whether s is a letter or digit followed by letters,
// digits or dashes, max bytes at most.
func nameSegment(s string, max int) bool {
	if s == "" || len(s) > max || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// CheckParent checks a parent, organizations/{org}; "" (every organization)
// is accepted only when all is true.
func CheckParent(parent string, all bool) error {
	if parent == "" && all {
		return nil
	}
	if !parentRE.MatchString(parent) {
		return status.Errorf(codes.InvalidArgument, "invalid parent %q: want organizations/{org}, e.g. organizations/acme", parent)
	}
	return nil
}

// RecordName returns the name of the operation rec holds.
func RecordName(rec *operationspb.OperationRecord) (string, error) {
	if rec.GetOperation() == nil {
		return "", status.Error(codes.InvalidArgument, "operation record without an operation")
	}
	var op longrunningpb.Operation
	if err := rec.GetOperation().UnmarshalTo(&op); err != nil {
		return "", status.Errorf(codes.InvalidArgument, "operation record: %v", err)
	}
	if _, _, err := SplitName(op.GetName()); err != nil {
		return "", err
	}
	return op.GetName(), nil
}

// recordPath is where a record lives, relative to the store's root.
func recordPath(name string) string { return name + ".json" }

// requestPath is where a request_id claim lives, relative to the root. The
// id is hashed: it is chosen by clients and may hold any character.
func requestPath(parent, requestID string) string {
	sum := sha256.Sum256([]byte(parent + "\x00" + requestID))
	return "requests/" + hex.EncodeToString(sum[:]) + ".json"
}

// nameFromPath is the inverse of recordPath for listings; ok is false for
// anything that is not a record.
func nameFromPath(p string) (string, bool) {
	name, ok := strings.CutSuffix(p, ".json")
	if !ok {
		return "", false
	}
	if _, _, err := SplitName(name); err != nil {
		return "", false
	}
	return name, true
}

func listPrefix(parent string) string {
	if parent == "" {
		return "organizations/"
	}
	return parent + "/operations/"
}

var (
	marshal   = protojson.MarshalOptions{Multiline: true}
	unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}
)

func encode(rec *operationspb.OperationRecord) ([]byte, error) {
	b, err := marshal.Marshal(rec)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding operation record: %v", err)
	}
	return b, nil
}

func decode(name string, b []byte) (*operationspb.OperationRecord, error) {
	rec := new(operationspb.OperationRecord)
	if err := unmarshal.Unmarshal(b, rec); err != nil {
		return nil, status.Errorf(codes.DataLoss, "operation record %s is damaged: %v; delete it", name, err)
	}
	return rec, nil
}

// claim is the body of a request_id claim.
type claim struct {
	Name string `json:"name"`
}

func notFound(name string) error {
	return status.Errorf(codes.NotFound, "operation %s not found", name)
}

func conflict(name string) error {
	return status.Errorf(codes.Aborted, "operation %s was changed by another writer; read it again and retry", name)
}

func alreadyExists(name string) error {
	return status.Errorf(codes.AlreadyExists, "operation %s already exists", name)
}

func wrap(code codes.Code, err error, format string, args ...any) error {
	return status.Errorf(code, "%s: %v", fmt.Sprintf(format, args...), err)
}
