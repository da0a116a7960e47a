package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/operations/server/internal/httprule"
)

// rest serves the REST/JSON mapping of the gRPC methods as the contract
// declares it: routes.go reads the google.api.http rules of
// operations/operationspb/export.proto. The path fills the fields its
// template names, the body the rest (body "*") or nothing, and the query
// string the fields neither binds; the method's own gRPC handler answers.
// Methods are checked here, so that wrong ones get Google's JSON error
// shape rather than a mux's plain-text 405.
type rest struct {
	routes  []route
	extra   *http.ServeMux // Options.Routes, nil if none
	maxBody int64
	json    jsonCache
}

func (h *rest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := httprule.SplitPath(r.URL.EscapedPath())
	var allow []string
	for i := range h.routes {
		rt := &h.routes[i]
		if !rt.tmpl.MatchVerb(p) {
			continue
		}
		values, ok := rt.tmpl.Match(p)
		if !ok {
			continue
		}
		if rt.httpMethod != r.Method {
			allow = append(allow, rt.httpMethod)
			continue
		}
		h.serve(w, r, rt, values)
		return
	}
	if len(allow) > 0 {
		allowMethods(w, r, allow...)
		return
	}
	if h.extra != nil {
		if hd, pattern := h.extra.Handler(r); pattern != "" {
			hd.ServeHTTP(w, r)
			return
		}
	}
	writeError(w, status.Error(codes.NotFound, h.notFound(r.URL.Path, p)))
}

// notFound explains a path that no route serves, pointing at the nearest
// ones.
func (h *rest) notFound(path string, p httprule.Path) string {
	msg := "no such REST resource: " + truncate(path)
	var verbs []string
	list := ""
	for _, rt := range h.routes {
		if _, ok := rt.tmpl.Match(p); ok && rt.tmpl.Verb() != "" && !slices.Contains(verbs, ":"+rt.tmpl.Verb()) {
			verbs = append(verbs, ":"+rt.tmpl.Verb())
		}
		if rt.method.Name() == "ListOperations" && p.Verb() == "" {
			if _, ok := rt.tmpl.Match(httprule.SplitPath(path + "/operations")); ok {
				list = path + "/operations"
			}
		}
	}
	switch {
	case len(verbs) > 0:
		msg += " (the custom methods here are " + strings.Join(verbs, ", ") + ")"
	case list != "":
		// Where a REST Operations client lands when given the List parent
		// "organizations/{org}": it sends GET /v1/{name}.
		msg += " (operations are listed at " + truncate(list) + "; a google.longrunning REST client must be given the name organizations/{org}/operations)"
	}
	return msg
}

// serve answers one request for rt's method: the method's gRPC handler
// decodes its request message by filling it from the body, the path values
// and the query, and answers it.
func (h *rest) serve(w http.ResponseWriter, r *http.Request, rt *route, values []string) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, status.Errorf(codes.InvalidArgument, "malformed query string: %v", err))
		return
	}
	if err := checkSystemParams(q); err != nil {
		writeError(w, err)
		return
	}
	dec := func(in any) error {
		m := in.(proto.Message)
		if err := rt.setQuery(m, q); err != nil {
			return err
		}
		if rt.body != "" {
			b, err := readBody(w, r, h.maxBody)
			if err != nil {
				return err
			}
			if err := decodeJSON(b, m); err != nil {
				return err
			}
		}
		return rt.setPath(m, values)
	}
	resp, err := rt.call(r.Context(), dec)
	if err != nil {
		writeError(w, restFieldNames(err, rt.method.Input()))
		return
	}
	if op, ok := resp.(*longrunningpb.Operation); ok && first(q, "prettyPrint", "$prettyPrint") == "" {
		b, err := h.json.marshal(op)
		if err != nil {
			writeError(w, status.Errorf(codes.Internal, "encode response: %v", err))
			return
		}
		writeJSON(w, b)
		return
	}
	writeProto(w, q, resp.(proto.Message))
}

// systemParams are the query parameters every Google API accepts.
var systemParams = []string{"alt", "$alt", "prettyPrint", "$prettyPrint"}

// checkSystemParams checks the query parameters every Google API accepts
// and refuses repeated ones.
func checkSystemParams(q url.Values) error {
	for k, v := range q {
		if len(v) > 1 {
			return fieldError(k, "query parameter "+strconv.Quote(truncate(k))+" is repeated")
		}
	}
	if alt := first(q, "alt", "$alt"); alt != "" && alt != "json" && !strings.HasPrefix(alt, "json;") {
		return fieldError("alt", "alt "+strconv.Quote(truncate(alt))+" is not supported: only json")
	}
	if p := first(q, "prettyPrint", "$prettyPrint"); p != "" {
		if _, err := strconv.ParseBool(p); err != nil {
			return fieldError("prettyPrint", "prettyPrint "+strconv.Quote(truncate(p))+" is not a boolean")
		}
	}
	return nil
}

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
	writeJSON(w, append(b, '\n'))
}

// The headers of every JSON answer, set without canonicalizing the keys.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noSniff         = []string{"nosniff"}
	noStore         = []string{"no-store"}
)

// writeJSON answers b, a JSON document ending in a newline.
func writeJSON(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = noSniff
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
