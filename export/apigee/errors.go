package apigee

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"pubexport/export/httpcode"
	"pubexport/formats/field"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// codedError is an error with a gRPC code that still unwraps to its cause,
// so that callers can use both status.Code(err) and errors.Is(err,
// context.Canceled).
type codedError struct {
	st    *status.Status
	cause error
}

func (e *codedError) Error() string              { return e.st.Message() }
func (e *codedError) GRPCStatus() *status.Status { return e.st }
func (e *codedError) Unwrap() error              { return e.cause }

// newError makes a coded error whose message is format's text.
func newError(c codes.Code, cause error, format string, args ...any) error {
	return &codedError{st: status.New(c, fmt.Sprintf(format, args...)), cause: cause}
}

// fieldError is a coded error about a value the caller gave (see package
// field), with the field error's message.
func fieldError(c codes.Code, fe *field.Error) error {
	return &codedError{st: status.New(c, fe.Error()), cause: fe}
}

// apiURLError is the fix for an answer that cannot come from the Apigee
// management API: the URL it was asked at is wrong, or a proxy is in the way.
func apiURLError(problem string) *field.Error {
	return &field.Error{Field: field.ApigeeURL, Problem: problem,
		Valid: "check the Apigee API URL (APIGEE_API_URL when not given) and any proxy in front of it"}
}

// contextError turns a context's end into Canceled or DeadlineExceeded.
func contextError(err error, what string) error {
	c := codes.Canceled
	if errors.Is(err, context.DeadlineExceeded) {
		c = codes.DeadlineExceeded
	}
	return newError(c, err, "%s: %v", what, err)
}

// googleError is the body Google APIs send with an error status.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// maxAPIMessage bounds how much of an error response goes into an error:
// error messages travel into operation records, logs and the polling API,
// so an answer that echoes a request or a page (or is not an API error at
// all) must not put kilobytes of it there.
const maxAPIMessage = 300

// apiMessage is the human part of an error response: Google's
// error.message when the body has that shape, else the body's start; either
// cut to maxAPIMessage bytes.
func apiMessage(body []byte) (msg, st string) {
	var g googleError
	if json.Unmarshal(body, &g) == nil && g.Error.Message != "" {
		return truncate(strings.TrimSpace(g.Error.Message), maxAPIMessage), g.Error.Status
	}
	return truncate(strings.TrimSpace(string(body)), maxAPIMessage), ""
}

// truncate cuts s to at most n bytes, at a UTF-8 boundary, and marks the
// cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// hint says what a user can do about an error of code c.
func hint(c codes.Code) string {
	switch c {
	case codes.Unauthenticated:
		return " (check the Application Default Credentials: gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS)"
	case codes.PermissionDenied:
		return " (the caller needs read access to the organization, e.g. roles/apigee.readOnlyAdmin)"
	case codes.ResourceExhausted:
		return " (Apigee's management API quota, 6000 calls a minute per project, stayed exhausted through the retry budget: lower the rate limit, stop other clients of the same project, or try again later)"
	case codes.Unavailable:
		return " (Apigee is unavailable: try again later)"
	}
	return ""
}

// responseError is the error for a final non-200 response; tried says how
// long it was retried ("" when it was not).
func responseError(method, url string, httpStatus int, tried string, body []byte) error {
	msg, bodyStatus := apiMessage(body)
	c := httpcode.ToCode(httpStatus, bodyStatus)
	if httpStatus == http.StatusTooManyRequests {
		c = codes.ResourceExhausted
	} else if httpStatus >= 500 && c != codes.Unimplemented {
		c = codes.Unavailable
	}
	if tried != "" {
		tried = " after " + tried
	}
	return newError(c, nil, "%s %s: HTTP %d%s: %s%s", method, url, httpStatus, tried, msg, hint(c))
}
