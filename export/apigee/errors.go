package apigee

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
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

// credentials is what the client sends to authenticate, which decides what
// a 401 asks the user to fix.
type credentials int

const (
	credsADC   credentials = iota // Application Default Credentials (https)
	credsBasic                    // the user and password of the base URL
	credsNone                     // nothing: an http:// URL, or WithoutAuthentication
)

// advice is hint for an answer of code c to a client sending creds, with
// retryAt the time the answer's Retry-After said to call again when that
// is why retrying stopped: a 401 to a request that carried no Google
// credentials is not about them, and a quota that asked for a wait longer
// than the budget did not stay exhausted through it.
func advice(c codes.Code, creds credentials, retryAt time.Time) string {
	switch {
	case c == codes.Unauthenticated && creds == credsBasic:
		return " (the server refused the user name and password given in the Apigee API URL: check them)"
	case c == codes.Unauthenticated && creds == credsNone:
		return " (the server refused a request without credentials: none are sent to an http:// Apigee API URL, since a token would travel in clear text; give the https:// URL of a server that takes Google credentials, or a user:password@ in the URL for one that takes basic authentication)"
	case !retryAt.IsZero() && c == codes.ResourceExhausted:
		return fmt.Sprintf(" (Apigee's management API quota, 6000 calls a minute per project, is spent: try again after %s, or lower the rate limit or stop other clients of the same project)", retryAt.UTC().Format(time.RFC3339))
	case !retryAt.IsZero() && c == codes.Unavailable:
		return fmt.Sprintf(" (Apigee is unavailable: try again after %s)", retryAt.UTC().Format(time.RFC3339))
	}
	return hint(c)
}

// responseError is the error for a final non-200 response; tried says how
// long it was retried ("" when it was not), advice what to do about its
// code.
func responseError(method, url string, httpStatus int, tried string, body []byte, advice func(codes.Code) string) error {
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
	return newError(c, nil, "%s %s: HTTP %d%s: %s%s", method, url, httpStatus, tried, msg, advice(c))
}
