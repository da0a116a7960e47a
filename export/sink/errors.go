package sink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"syscall"

	"pubexport/formats/field"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// sinkError carries a gRPC code for callers (status.Code finds it through
// fmt.Errorf wrapping) and keeps the underlying error for errors.Is/As.
type sinkError struct {
	code codes.Code
	msg  string
	err  error
}

func (e *sinkError) Error() string              { return e.msg }
func (e *sinkError) Unwrap() error              { return e.err }
func (e *sinkError) GRPCStatus() *status.Status { return status.New(e.code, e.msg) }

// newError formats a message, appending the cause when there is one.
func newError(code codes.Code, cause error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return &sinkError{code: code, msg: msg, err: cause}
}

// fieldError is an error with code about a value the caller gave (see
// package field): its message is what's, then the field error's.
func fieldError(code codes.Code, what string, fe *field.Error) error {
	msg := fe.Error()
	if what != "" {
		msg = what + ": " + msg
	}
	return &sinkError{code: code, msg: msg, err: fe}
}

// missingBucket is the NOT_FOUND error for a bucket that does not exist.
func missingBucket(err error, what, bucket, create string) error {
	return fieldError(codes.NotFound, what, &field.Error{Field: field.Destination, Value: "gs://" + bucket,
		Problem: fmt.Sprintf("bucket gs://%s does not exist", bucket),
		Valid:   fmt.Sprintf("create it (%s) or correct the destination", create), Err: err})
}

// grantHint is the fix for a Cloud Storage permission error.
func grantHint(bucket string) string {
	return fmt.Sprintf("grant the caller roles/storage.objectUser on gs://%s (gcloud storage buckets add-iam-policy-binding gs://%s --member=PRINCIPAL --role=roles/storage.objectUser)", bucket, bucket)
}

const loginHint = "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS to a service account key"

// knownError maps what both backends share: an error this package already
// gave a code (only the context is added) and cancellation. It returns nil
// for anything else, which the backend maps itself.
func knownError(err error, what string) error {
	var se *sinkError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return newError(codes.Canceled, err, "%s", what)
	case errors.Is(err, context.DeadlineExceeded):
		return newError(codes.DeadlineExceeded, err, "%s", what)
	}
	return nil
}

// gcsError maps a Cloud Storage client error to a gRPC code. what says what
// was being done ("writing gs://b/x").
func gcsError(err error, bucket, what string) error {
	if err == nil {
		return nil
	}
	if mapped := knownError(err, what); mapped != nil {
		return mapped
	}
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		return missingBucket(err, what, bucket, "gcloud storage buckets create gs://"+bucket)
	case errors.Is(err, storage.ErrObjectNotExist):
		return newError(codes.NotFound, err, "%s", what)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch c := ge.Code; {
		case c == 400:
			return newError(codes.InvalidArgument, err, "%s", what)
		case c == 401:
			return newError(codes.Unauthenticated, err, "%s: the credentials were refused; %s", what, loginHint)
		case c == 403:
			return newError(codes.PermissionDenied, err, "%s: permission denied; %s", what, grantHint(bucket))
		case c == 404:
			return newError(codes.NotFound, err, "%s", what)
		case c == 409:
			return newError(codes.Aborted, err, "%s", what)
		case c == 412:
			return newError(codes.FailedPrecondition, err, "%s", what)
		case c == 429:
			return newError(codes.ResourceExhausted, err, "%s: Cloud Storage rate limit, still failing after retries", what)
		case c >= 500:
			return newError(codes.Unavailable, err, "%s: Cloud Storage is unavailable, still failing after retries", what)
		}
		return newError(codes.Unknown, err, "%s", what)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || storage.ShouldRetry(err) {
		return newError(codes.Unavailable, err, "%s: cannot reach Cloud Storage", what)
	}
	return newError(codes.Unknown, err, "%s", what)
}

// httpCode is the HTTP status of a Cloud Storage error, or 0.
func httpCode(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return 404
	}
	return 0
}

// localError maps a file system error to a gRPC code.
func localError(err error, what string) error {
	if err == nil {
		return nil
	}
	if mapped := knownError(err, what); mapped != nil {
		return mapped
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return newError(codes.NotFound, err, "%s", what)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return fieldError(codes.PermissionDenied, what, &field.Error{Field: field.Destination,
			Problem: "the folder is not writable", Valid: "fix its permissions or choose another destination", Err: err})
	case errors.Is(err, syscall.ENOSPC):
		return newError(codes.ResourceExhausted, err, "%s: the disk is full", what)
	case errors.Is(err, syscall.ENOTDIR):
		return newError(codes.FailedPrecondition, err, "%s: a part of the path is a file, not a folder", what)
	}
	return newError(codes.Internal, err, "%s", what)
}
