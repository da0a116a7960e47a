package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// bucketErrors says "bucket does not exist" where a Cloud Storage operation
// store meets a missing bucket, as the destination's check does: creating
// an object (a record, a request claim) answers 404 only when its bucket is
// missing, which the store alone reports as a bare "Not Found". flag is
// what the user set the bucket with (--to for the default store).
type bucketErrors struct {
	store.Store
	bucket, flag string
}

func (s bucketErrors) missing(err error) error {
	if status.Code(err) != codes.NotFound {
		return err
	}
	return status.Error(codes.NotFound, fmt.Sprintf("the operation store's bucket gs://%s does not exist; create it (gcloud storage buckets create gs://%s --location=LOCATION) or correct %s (%s)",
		s.bucket, s.bucket, s.flag, status.Convert(err).Message()))
}

func (s bucketErrors) Create(ctx context.Context, rec *operationspb.OperationRecord) (int64, error) {
	gen, err := s.Store.Create(ctx, rec)
	return gen, s.missing(err)
}

func (s bucketErrors) ClaimRequest(ctx context.Context, parent, requestID, name string) (string, error) {
	owner, err := s.Store.ClaimRequest(ctx, parent, requestID, name)
	return owner, s.missing(err)
}
