package operations

import (
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
)

// unpack returns the operation a record holds and the operation's metadata.
func unpack(rec *operationspb.OperationRecord) (*longrunningpb.Operation, *apigeepb.OperationMetadata, error) {
	op := new(longrunningpb.Operation)
	if err := rec.GetOperation().UnmarshalTo(op); err != nil {
		return nil, nil, status.Errorf(codes.DataLoss, "operation record holds no operation: %v", err)
	}
	md := new(apigeepb.OperationMetadata)
	if op.GetMetadata() != nil {
		if err := op.GetMetadata().UnmarshalTo(md); err != nil {
			return nil, nil, status.Errorf(codes.DataLoss, "operation %s has unreadable metadata: %v", op.GetName(), err)
		}
	}
	return op, md, nil
}

// pack returns op with md as its metadata, as an Any for a record. op is
// not changed.
func pack(op *longrunningpb.Operation, md *apigeepb.OperationMetadata) (*anypb.Any, *longrunningpb.Operation, error) {
	out := proto.Clone(op).(*longrunningpb.Operation)
	m, err := anypb.New(md)
	if err != nil {
		return nil, nil, status.Errorf(codes.Internal, "packing metadata: %v", err)
	}
	out.Metadata = m
	a, err := anypb.New(out)
	if err != nil {
		return nil, nil, status.Errorf(codes.Internal, "packing operation: %v", err)
	}
	return a, out, nil
}

// operationOf returns the operation a record holds, as clients see it.
func operationOf(rec *operationspb.OperationRecord) (*longrunningpb.Operation, error) {
	op := new(longrunningpb.Operation)
	if err := rec.GetOperation().UnmarshalTo(op); err != nil {
		return nil, status.Errorf(codes.DataLoss, "operation record holds no operation: %v", err)
	}
	return op, nil
}

// leased reports whether someone other than holder holds a lease on rec
// that has not lapsed at now.
func leased(rec *operationspb.OperationRecord, holder string, now time.Time) bool {
	h := rec.GetLeaseHolder()
	return h != "" && h != holder && rec.GetLeaseExpires().AsTime().After(now)
}
