package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/formats/field"
)

// readBody reads a request body of at most max bytes. Once it is read, the
// read deadline set for it (authHTTP) is lifted: net/http keeps reading the
// connection in the background while the handler runs, and a deadline
// expiring there would cancel a long WaitOperation.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooBig *http.MaxBytesError
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.Header().Set("Connection", "close")
		return nil, &httpError{
			status: http.StatusRequestTimeout,
			st:     status.New(codes.DeadlineExceeded, "request body did not arrive in time: send the whole body at once"),
		}
	}
	if err == nil {
		http.NewResponseController(w).SetReadDeadline(time.Time{})
	}
	if errors.As(err, &tooBig) {
		return nil, &httpError{
			status: http.StatusRequestEntityTooLarge,
			st:     status.Newf(codes.InvalidArgument, "request body is larger than %d bytes", max),
		}
	}
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "read request body: %v", err)
	}
	return b, nil
}

// decodeJSON fills m from a JSON body; an empty body leaves m empty. Unknown
// fields are INVALID_ARGUMENT naming the field (a misspelt option must not be
// silently ignored), with a google.rpc.BadRequest detail.
func decodeJSON(b []byte, m proto.Message) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	name := string(m.ProtoReflect().Descriptor().Name())
	if path := unknownField(b, m.ProtoReflect().Descriptor(), ""); path != "" {
		return fieldError(path, fmt.Sprintf("unknown field %q in %s", field.Echo(path), name))
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, m); err != nil {
		// protojson's message quotes the offending value.
		return status.Errorf(codes.InvalidArgument, "request body is not a valid %s in JSON: %s", name, field.Echo(err.Error()))
	}
	return nil
}

// fieldError is INVALID_ARGUMENT about one field, with a BadRequest detail
// that clients can point at.
func fieldError(path, msg string) error {
	st := status.New(codes.InvalidArgument, msg)
	if d, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field.Echo(path), Description: msg}},
	}); err == nil {
		st = d
	}
	return st.Err()
}

// unknownField returns the path ("csv.delimter") of the first field in the
// JSON object b that md does not declare, or "" if there is none or b is not
// an object (protojson then reports the real problem). Both the JSON name and
// the proto name of a field are known, as protojson accepts both.
func unknownField(b []byte, md protoreflect.MessageDescriptor, prefix string) string {
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return "" // well-known types have their own JSON forms
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil {
		return ""
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByTextName(k)
		}
		if fd == nil {
			return prefix + k
		}
		v := obj[k]
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				continue
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(v, &m) != nil {
				continue
			}
			for _, mk := range slices.Sorted(maps.Keys(m)) {
				if f := unknownField(m[mk], fd.MapValue().Message(), fmt.Sprintf("%s%s[%q].", prefix, k, mk)); f != "" {
					return f
				}
			}
		case fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind:
		case fd.IsList():
			var l []json.RawMessage
			if json.Unmarshal(v, &l) != nil {
				continue
			}
			for i, e := range l {
				if f := unknownField(e, fd.Message(), fmt.Sprintf("%s%s[%d].", prefix, k, i)); f != "" {
					return f
				}
			}
		default:
			if f := unknownField(v, fd.Message(), prefix+k+"."); f != "" {
				return f
			}
		}
	}
	return ""
}
