package operations

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/apigee/apigeepb"
	"pubexport/formats/field"
	"pubexport/operations/store"
)

// Page sizes of List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// FilterHelp describes the filter grammar List accepts.
const FilterHelp = `a filter is empty or terms joined by AND, each FIELD=VALUE (values may be "quoted"): ` +
	`done=true|false, metadata.state=NOT_STARTED|IN_PROGRESS|FINISHED, ` +
	`metadata.target_resource_name=organizations/ORG/RESOURCE (also metadata.targetResourceName), ` +
	`error.code=N (0 matches operations without an error); for example: done=false AND metadata.state=IN_PROGRESS`

// List returns the operations under parent (organizations/{org}), newest
// first, that match filter (see FilterHelp), and the token of the next page
// ("" after the last). Page tokens are opaque and tied to parent and filter.
//
// A record that cannot be read (damaged, or one failed read) is skipped and
// logged rather than failing the page; the signature has no room to report
// it (ListOperationsResponse.unreachable names collections, not single
// operations). Only when no record at all can be read, for a reason other
// than damage, does List fail: the store is down.
//
// The operations may be shared, as Get's are: they must not be changed.
func (m *Manager) List(ctx context.Context, parent, filter string, pageSize int32, pageToken string) ([]*longrunningpb.Operation, string, error) {
	if err := store.CheckParent(parent, false); err != nil {
		return nil, "", err
	}
	match, err := parseFilter(filter)
	if err != nil {
		return nil, "", err
	}
	size := int(pageSize)
	switch {
	case size < 0:
		return nil, "", status.Errorf(codes.InvalidArgument, "page_size: %d is negative; use 0 for the default (%d) or up to %d", pageSize, DefaultPageSize, MaxPageSize)
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	after, err := decodeToken(pageToken, parent, filter)
	if err != nil {
		return nil, "", err
	}
	names, err := m.store.List(ctx, parent)
	if err != nil {
		return nil, "", err
	}
	slices.Reverse(names) // ids are time-ordered: newest first
	var ops []*longrunningpb.Operation
	var read int       // records read
	var failed []error // records that could not be
	for i, name := range names {
		if after != "" && name >= after {
			continue
		}
		op, err := m.Get(ctx, name)
		if status.Code(err) == codes.NotFound {
			continue // deleted since the listing
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", status.FromContextError(ctx.Err()).Err()
			}
			// One damaged record, or one failed read, must not hide all
			// the others: skip it, and say so in the log.
			m.log.Warn("listing operations: skipped a record that cannot be read", "operation", name, "error", err)
			failed = append(failed, err)
			if len(failed) > maxUnreadable && read == 0 && !allDataLoss(failed) {
				return nil, "", fmt.Errorf("listing operations of %s: no record could be read: %w", parent, failed[0])
			}
			continue
		}
		read++
		if !match(op) {
			continue
		}
		ops = append(ops, op)
		if len(ops) == size {
			if i < len(names)-1 {
				return ops, encodeToken(name, filter), nil
			}
			break
		}
	}
	if read == 0 && len(failed) > 0 && !allDataLoss(failed) {
		// Nothing could be read, and not because records are damaged: the
		// store is failing, which an empty page would hide.
		return nil, "", fmt.Errorf("listing operations of %s: %w", parent, failed[0])
	}
	return ops, "", nil
}

// maxUnreadable is how many unreadable records in a row, with none read,
// List skips before it concludes that the store itself is failing.
const maxUnreadable = 20

func allDataLoss(errs []error) bool {
	for _, err := range errs {
		if status.Code(err) != codes.DataLoss {
			return false
		}
	}
	return true
}

// A page token is the last name returned, with the parent and filter it
// belongs to so that a token is not reused for another listing.
func encodeToken(last, filter string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(last + "\x00" + filter))
}

func decodeToken(token, parent, filter string) (string, error) {
	if token == "" {
		return "", nil
	}
	bad := status.Errorf(codes.InvalidArgument, "page_token: not a token of this listing; pass the next_page_token of a List with the same parent and filter, or none")
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", bad
	}
	last, f, ok := strings.Cut(string(b), "\x00")
	if !ok || f != filter {
		return "", bad
	}
	p, _, err := store.SplitName(last)
	if err != nil || p != parent {
		return "", bad
	}
	return last, nil
}

var andRE = regexp.MustCompile(`(?i)\s+AND\s+`)

// parseFilter compiles a filter (see FilterHelp) into a predicate.
func parseFilter(filter string) (func(*longrunningpb.Operation) bool, error) {
	var preds []func(*longrunningpb.Operation) bool
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return func(*longrunningpb.Operation) bool { return true }, nil
	}
	for _, term := range andRE.Split(filter, -1) {
		field, value, ok := strings.Cut(term, "=")
		field, value = strings.TrimSpace(field), strings.Trim(strings.TrimSpace(value), `"`)
		if !ok || strings.HasSuffix(field, "!") || value == "" {
			return nil, badFilter(term)
		}
		p, err := predicate(field, value)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p)
	}
	return func(op *longrunningpb.Operation) bool {
		for _, p := range preds {
			if !p(op) {
				return false
			}
		}
		return true
	}, nil
}

func predicate(name, value string) (func(*longrunningpb.Operation) bool, error) {
	switch name {
	case "done":
		want := strings.ToLower(value)
		if want != "true" && want != "false" {
			return nil, status.Errorf(codes.InvalidArgument, "filter: done=%s: want done=true or done=false", field.Echo(value))
		}
		return func(op *longrunningpb.Operation) bool { return op.GetDone() == (want == "true") }, nil
	case "metadata.state":
		v, ok := apigeepb.OperationMetadata_State_value[strings.ToUpper(value)]
		if !ok || v == 0 {
			return nil, status.Errorf(codes.InvalidArgument, "filter: metadata.state=%s: want NOT_STARTED, IN_PROGRESS or FINISHED", field.Echo(value))
		}
		return func(op *longrunningpb.Operation) bool {
			return metadata(op).GetState() == apigeepb.OperationMetadata_State(v)
		}, nil
	case "metadata.target_resource_name", "metadata.targetResourceName":
		return func(op *longrunningpb.Operation) bool { return metadata(op).GetTargetResourceName() == value }, nil
	case "error.code":
		c, ok := parseCode(value)
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "filter: error.code=%s: want a number, e.g. error.code=1 for cancelled operations", field.Echo(value))
		}
		return func(op *longrunningpb.Operation) bool { return op.GetError().GetCode() == c }, nil
	}
	return nil, status.Errorf(codes.InvalidArgument, "filter: field %q is not supported; %s", field.Echo(name), FilterHelp)
}

func parseCode(s string) (int32, bool) {
	var n int32
	if s == "" || len(s) > 2 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + c - '0'
	}
	return n, true
}

func badFilter(term string) error {
	return status.Errorf(codes.InvalidArgument, "filter: cannot read %q; %s", field.Echo(term), FilterHelp)
}

func metadata(op *longrunningpb.Operation) *apigeepb.OperationMetadata {
	md := new(apigeepb.OperationMetadata)
	if op.GetMetadata() != nil {
		op.GetMetadata().UnmarshalTo(md)
	}
	return md
}
