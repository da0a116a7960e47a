package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"pubexport/export/apigee"
	"pubexport/operations/operationspb"
)

// collections are the resources an export can be triggered for, as REST
// path segments (the Manager validates the request in depth).
var collections = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range apigee.Resources() {
		m[string(r)] = true
	}
	return m
}()

// resourceNames lists the collections for messages.
var resourceNames = func() string {
	var names []string
	for _, r := range apigee.Resources() {
		names = append(names, string(r))
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}()

// rest serves the REST/JSON mapping:
//
//	GET    /v1/organizations/{org}/operations?filter=&pageSize=&pageToken=
//	GET    /v1/organizations/{org}/operations/{id}
//	DELETE /v1/organizations/{org}/operations/{id}
//	POST   /v1/organizations/{org}/operations/{id}:cancel
//	POST   /v1/organizations/{org}/operations/{id}:wait   body {"timeout":"30s"}
//	POST   /v1/organizations/{org}/{developers|apps|apiproducts}:export   body ExportRequest
//
// ServeMux patterns match whole segments, so "{id}:cancel" is one wildcard
// that the handlers split themselves; methods are checked in the handlers
// too, so that wrong ones get Google's JSON error shape rather than the
// mux's plain-text 405.
type rest struct {
	svc     *service
	maxBody int64
}

func (h *rest) routes(extra map[string]http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	for pattern, handler := range extra {
		mux.Handle(pattern, handler)
	}
	mux.HandleFunc("/v1/organizations/{org}/operations", h.operations)
	mux.HandleFunc("/v1/organizations/{org}/operations/{rest}", h.operation)
	mux.HandleFunc("/v1/organizations/{org}/{rest}", h.collection)
	mux.HandleFunc("/v1/organizations/{org}", func(w http.ResponseWriter, r *http.Request) {
		// Where a REST Operations client lands when given the List parent
		// "organizations/{org}": it sends GET /v1/{name}.
		writeError(w, status.Errorf(codes.NotFound, "no such REST resource: %s (operations are listed at %s/operations; "+
			"a google.longrunning REST client must be given the name organizations/{org}/operations)", truncate(r.URL.Path), truncate(r.URL.Path)))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, status.Errorf(codes.NotFound, "no such REST resource: %s", truncate(r.URL.Path)))
	})
	return mux
}

// operations lists.
func (h *rest) operations(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	q, err := query(r, "filter", "pageSize", "page_size", "pageToken", "page_token", "returnPartialSuccess", "return_partial_success")
	if err != nil {
		writeError(w, err)
		return
	}
	var size int32
	if s := first(q, "pageSize", "page_size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			writeError(w, fieldError("pageSize", "pageSize "+strconv.Quote(s)+" is not a 32-bit integer"))
			return
		}
		size = int32(n)
	}
	if s := first(q, "returnPartialSuccess", "return_partial_success"); s != "" {
		if _, err := strconv.ParseBool(s); err != nil {
			writeError(w, fieldError("returnPartialSuccess", "returnPartialSuccess "+strconv.Quote(s)+" is not a boolean"))
			return
		}
	}
	ops, next, err := h.svc.list(r.Context(), "organizations/"+r.PathValue("org"), q.Get("filter"), size, first(q, "pageToken", "page_token"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeProto(w, q, &longrunningpb.ListOperationsResponse{Operations: ops, NextPageToken: next})
}

// operation serves {id}, {id}:cancel and {id}:wait.
func (h *rest) operation(w http.ResponseWriter, r *http.Request) {
	id, verb, hasVerb := strings.Cut(r.PathValue("rest"), ":")
	name := "organizations/" + r.PathValue("org") + "/operations/" + id
	q, err := query(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	switch {
	case !hasVerb:
		if !allowMethods(w, r, http.MethodGet, http.MethodDelete) {
			return
		}
		if r.Method == http.MethodDelete {
			if err := h.svc.delete(ctx, name); err != nil {
				writeError(w, err)
				return
			}
			writeProto(w, q, &emptypb.Empty{})
			return
		}
		op, err := h.svc.get(ctx, name)
		if err != nil {
			writeError(w, err)
			return
		}
		writeProto(w, q, op)
	case verb == "cancel":
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		// The official REST client sends the CancelOperationRequest as the
		// body; its name, if any, must agree with the path.
		var req longrunningpb.CancelOperationRequest
		if err := h.namedBody(w, r, name, &req); err != nil {
			writeError(w, err)
			return
		}
		if err := h.svc.cancel(ctx, name); err != nil {
			writeError(w, err)
			return
		}
		writeProto(w, q, &emptypb.Empty{})
	case verb == "wait":
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		var req longrunningpb.WaitOperationRequest
		if err := h.namedBody(w, r, name, &req); err != nil {
			writeError(w, err)
			return
		}
		timeout, err := durationOf(req.GetTimeout())
		if err != nil {
			writeError(w, err)
			return
		}
		op, err := h.svc.wait(ctx, name, timeout)
		if err != nil {
			writeError(w, err)
			return
		}
		writeProto(w, q, op)
	default:
		writeError(w, status.Errorf(codes.NotFound, "no custom method %q on operations: use :cancel or :wait", truncate(verb)))
	}
}

// collection serves {resource}:export.
func (h *rest) collection(w http.ResponseWriter, r *http.Request) {
	resource, verb, _ := strings.Cut(r.PathValue("rest"), ":")
	if verb != "export" {
		writeError(w, status.Errorf(codes.NotFound, "no such REST resource: %s (exports are POST .../{developers|apps|apiproducts}:export)", truncate(r.URL.Path)))
		return
	}
	if !collections[resource] {
		writeError(w, status.Errorf(codes.NotFound, "cannot export %q: want %s", truncate(resource), resourceNames))
		return
	}
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	q, err := query(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req operationspb.ExportRequest
	if err := h.body(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	parent := "organizations/" + r.PathValue("org")
	if req.GetParent() != "" && req.GetParent() != parent {
		writeError(w, fieldError("parent", "body parent "+strconv.Quote(truncate(req.GetParent()))+" disagrees with the path's "+strconv.Quote(parent)))
		return
	}
	if req.GetResource() != "" && req.GetResource() != resource {
		writeError(w, fieldError("resource", "body resource "+strconv.Quote(truncate(req.GetResource()))+" disagrees with the path's "+strconv.Quote(resource)))
		return
	}
	req.Parent, req.Resource = parent, resource
	op, err := h.svc.export(r.Context(), &req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeProto(w, q, op)
}

func (h *rest) body(w http.ResponseWriter, r *http.Request, m proto.Message) error {
	b, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	return decodeJSON(b, m)
}

func durationOf(d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, fieldError("timeout", "timeout: "+err.Error())
	}
	return d.AsDuration(), nil
}

// allowMethods answers 405 in Google's error shape unless r uses one of
// methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, &httpError{
		status: http.StatusMethodNotAllowed,
		st:     status.Newf(codes.Unimplemented, "method %s is not allowed on %s: use %s", r.Method, truncate(r.URL.Path), strings.Join(methods, " or ")),
	})
	return false
}

// systemParams are the query parameters every Google API accepts.
var systemParams = []string{"alt", "$alt", "prettyPrint", "$prettyPrint"}

// query parses the query string, refusing unknown and repeated parameters
// (a misspelt "pagesize" must not be ignored).
func query(r *http.Request, known ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "malformed query string: %v", err)
	}
	for k, v := range q {
		if !contains(known, k) && !contains(systemParams, k) {
			return nil, fieldError(k, "unknown query parameter "+strconv.Quote(truncate(k)))
		}
		if len(v) > 1 {
			return nil, fieldError(k, "query parameter "+strconv.Quote(k)+" is repeated")
		}
	}
	if alt := first(q, "alt", "$alt"); alt != "" && alt != "json" && !strings.HasPrefix(alt, "json;") {
		return nil, fieldError("alt", "alt "+strconv.Quote(truncate(alt))+" is not supported: only json")
	}
	if p := first(q, "prettyPrint", "$prettyPrint"); p != "" {
		if _, err := strconv.ParseBool(p); err != nil {
			return nil, fieldError("prettyPrint", "prettyPrint "+strconv.Quote(truncate(p))+" is not a boolean")
		}
	}
	return q, nil
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// first returns the value of the first of names present in q.
func first(q url.Values, names ...string) string {
	for _, n := range names {
		if v := q.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// writeProto answers m as protojson. Any fields (operation metadata and
// response) are resolved from the types linked into the binary; apigeepb and
// operationspb are imported by this package for that reason.
func writeProto(w http.ResponseWriter, q url.Values, m proto.Message) {
	o := protojson.MarshalOptions{}
	if p, _ := strconv.ParseBool(first(q, "prettyPrint", "$prettyPrint")); p {
		o.Multiline, o.Indent = true, "  "
	}
	b, err := o.Marshal(m)
	if err != nil {
		writeError(w, status.Errorf(codes.Internal, "encode response: %v", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}

// namedRequest is a request body that may repeat the operation's name.
type namedRequest interface {
	proto.Message
	GetName() string
}

// namedBody reads a request body whose name, if any, must agree with the
// operation the path names (the official REST client sends both).
func (h *rest) namedBody(w http.ResponseWriter, r *http.Request, name string, req namedRequest) error {
	if err := h.body(w, r, req); err != nil {
		return err
	}
	if n := req.GetName(); n != "" && n != name {
		return fieldError("name", "body name "+strconv.Quote(truncate(n))+" disagrees with the path's "+strconv.Quote(name))
	}
	return nil
}
