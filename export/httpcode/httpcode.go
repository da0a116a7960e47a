// Package httpcode maps between HTTP statuses and gRPC codes the way
// Google's APIs do (google.rpc.Code's "HTTP Mapping", as grpc-gateway
// applies it). It is the one mapping of the project: the Apigee client
// reads Apigee's HTTP answers with it, the polling API's REST side answers
// with it, and the CLI's REST client reads those answers with it, so that a
// code survives the round trip through HTTP.
package httpcode

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// StatusClientClosed is the non-standard status Google's APIs answer for
// CANCELLED.
const StatusClientClosed = 499

// FromCode is the HTTP status for code c.
func FromCode(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return StatusClientClosed
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	default: // Unknown, Internal, DataLoss
		return http.StatusInternalServerError
	}
}

// ToCode is the gRPC code of an HTTP answer. bodyStatus is the status name
// of a Google JSON error body ("ALREADY_EXISTS"), "" when there is none: it
// decides between the codes that share a status (409 is ALREADY_EXISTS or
// ABORTED, 400 is also FAILED_PRECONDITION or OUT_OF_RANGE), and names the
// code of a status the mapping does not cover. Without it a 409 is ABORTED,
// the code of a conflict that a retry of the whole operation may resolve.
func ToCode(status int, bodyStatus string) codes.Code {
	var named codes.Code
	hasNamed := bodyStatus != "" && named.UnmarshalJSON([]byte(`"`+bodyStatus+`"`)) == nil && named != codes.OK
	if hasNamed && FromCode(named) == status {
		return named
	}
	switch status {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusPreconditionFailed:
		return codes.FailedPrecondition
	case http.StatusRequestedRangeNotSatisfiable:
		return codes.OutOfRange
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case StatusClientClosed:
		return codes.Canceled
	case http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	}
	if hasNamed {
		return named
	}
	if status >= 500 {
		return codes.Unavailable
	}
	return codes.Unknown
}
