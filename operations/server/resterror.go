package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"pubexport/export/httpcode"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// httpError is a gRPC status error that REST answers with a specific HTTP
// status instead of the one its code maps to (413 for a too-large body, 405
// for a wrong method).
type httpError struct {
	status int
	st     *status.Status
}

func (e *httpError) Error() string              { return e.st.Err().Error() }
func (e *httpError) GRPCStatus() *status.Status { return e.st }

// errorBody is Google's JSON error shape, which the official REST clients
// (googleapi.CheckResponse, apierror) decode into messages and details.
type errorBody struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []json.RawMessage `json:"details,omitempty"`
}

// writeError answers err in Google's JSON error shape with the HTTP status
// of its gRPC code.
func writeError(w http.ResponseWriter, err error) {
	st := bounded(status.Convert(err))
	hs := httpcode.FromCode(st.Code())
	var he *httpError
	if errors.As(err, &he) {
		hs = he.status
	}
	body := errorBody{Error: errorFields{
		Code:    hs,
		Message: st.Message(),
		Status:  code.Code_name[int32(st.Code())],
	}}
	for _, d := range st.Proto().GetDetails() {
		// A detail whose type is not linked into this binary cannot be
		// rendered; dropping it keeps the error itself readable.
		if b, err := protojson.Marshal(d); err == nil {
			body.Error.Details = append(body.Error.Details, b)
		}
	}
	b, _ := json.Marshal(body) // cannot fail: strings, ints and valid raw JSON
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if st.Code() == codes.Unauthenticated {
		h.Set("WWW-Authenticate", `Bearer realm="pubexport"`)
	}
	w.WriteHeader(hs)
	w.Write(append(b, '\n'))
}

// WriteError answers err as the REST API does: Google's JSON error shape
// with the HTTP status of its gRPC code. It is for handlers mounted with
// Options.Routes, so that their errors look like the API's.
func WriteError(w http.ResponseWriter, err error) { writeError(w, err) }

// AllowMethods answers 405 in Google's error shape, with an Allow header,
// unless r uses one of methods; it reports whether r may go on. It is for
// handlers mounted with Options.Routes.
func AllowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	return allowMethods(w, r, methods...)
}
