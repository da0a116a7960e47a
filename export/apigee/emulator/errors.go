package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an error answered in Google's JSON error shape
// {"error":{"code":404,"message":"...","status":"NOT_FOUND"}}, which is what
// Google's client libraries (and pubexport's client) parse to find the gRPC
// code and the message.
type apiError struct {
	code    int    // HTTP status
	status  string // google.rpc.Code name
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.status, e.message) }

func errorf(code int, status, format string, args ...any) *apiError {
	return &apiError{code: code, status: status, message: fmt.Sprintf(format, args...)}
}

// The HTTP status and google.rpc.Code pairs Google's front end uses.
func invalidArgument(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "INVALID_ARGUMENT", format, args...)
}

func notFound(format string, args ...any) *apiError {
	return errorf(http.StatusNotFound, "NOT_FOUND", format, args...)
}

// permissionDenied is Google's answer to a caller without permission on
// resource (a path such as organizations/acme): 403, and the words "(or it
// may not exist)", since IAM is checked before existence.
func permissionDenied(permission, resource string) *apiError {
	return errorf(http.StatusForbidden, "PERMISSION_DENIED", "Permission '%s' denied on resource '//apigee.googleapis.com/%s' (or it may not exist).", permission, resource)
}

func alreadyExists(format string, args ...any) *apiError {
	return errorf(http.StatusConflict, "ALREADY_EXISTS", format, args...)
}

func unimplemented(format string, args ...any) *apiError {
	return errorf(http.StatusNotImplemented, "UNIMPLEMENTED", format, args...)
}

func methodNotAllowed(r *http.Request) *apiError {
	return errorf(http.StatusMethodNotAllowed, "UNIMPLEMENTED", "method %s is not allowed on %s", r.Method, r.URL.Path)
}

// writeError answers e. retryAfter >= 0 adds a Retry-After header (seconds),
// as Google's front end may for 429 and 503.
func writeError(w http.ResponseWriter, e *apiError, retryAfter int) {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": e.code, "message": e.message, "status": e.status,
	}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	if retryAfter >= 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.WriteHeader(e.code)
	w.Write(append(body, '\n'))
}
