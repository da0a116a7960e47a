package store

import (
	"context"
	"errors"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/sink"
	"pubexport/formats/field"
)

// Open returns the operation store uri names, beside sink.Open and with
// its URI rules (sink.ParseURI: bucket names, prefix limits, file URLs):
// gs://BUCKET/PREFIX on Cloud Storage with Application Default Credentials
// (STORAGE_EMULATOR_HOST is honoured, for tests), or file:///DIR or a folder
// path. closeFn releases the Cloud Storage client. A bad URI is
// INVALID_ARGUMENT wrapping a *field.Error about the store, checked before
// any I/O.
func Open(ctx context.Context, uri string, opts ...option.ClientOption) (st Store, closeFn func() error, err error) {
	loc, err := sink.ParseURI(uri)
	if err != nil {
		var fe *field.Error
		if errors.As(err, &fe) {
			// The same rules, about another value.
			relabelled := *fe
			relabelled.Field = field.Store
			return nil, nil, &openError{code: status.Code(err), fe: &relabelled}
		}
		return nil, nil, err
	}
	if loc.Bucket == "" {
		st, err := Local(loc.Dir)
		return st, func() error { return nil }, err
	}
	c, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, nil, wrap(codes.Unavailable, err, "operation store %s: creating the Cloud Storage client", uri)
	}
	return GCS(c.Bucket(loc.Bucket), strings.TrimSuffix(loc.Prefix, "/")), c.Close, nil
}

// openError is a refused store URI: its code, and the field error that
// says what is wrong.
type openError struct {
	code codes.Code
	fe   *field.Error
}

func (e *openError) Error() string              { return e.fe.Error() }
func (e *openError) Unwrap() error              { return e.fe }
func (e *openError) GRPCStatus() *status.Status { return status.New(e.code, e.fe.Error()) }
