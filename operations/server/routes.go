package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"pubexport/operations/operationspb"
	"pubexport/operations/server/internal/httprule"
)

// route is one REST route of the contract: a google.api.http binding
// (method, path template, body) of a gRPC method, and the method's handler
// as the gRPC server calls it.
type route struct {
	httpMethod string
	tmpl       *httprule.Template
	body       string // "", "*" or a top-level field name
	method     protoreflect.MethodDescriptor
	pathFields []protoreflect.FieldDescriptor // one per template variable
	call       func(ctx context.Context, dec func(any) error) (any, error)
}

// registered is a gRPC service implementation, by service full name.
type registered struct {
	desc *grpc.ServiceDesc
	impl any
}

// contractRules returns the HTTP rules of the contract with the methods
// they select: those on ExportService's methods (google.api.http) and those
// the file keeps for google.longrunning.Operations (pubexport.v1.http_rules).
func contractRules() ([]*annotations.HttpRule, error) {
	fd := operationspb.File_operations_operationspb_export_proto
	var rules []*annotations.HttpRule
	services := fd.Services()
	for i := range services.Len() {
		methods := services.Get(i).Methods()
		for j := range methods.Len() {
			m := methods.Get(j)
			r, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
			if r == nil {
				continue
			}
			r = proto.Clone(r).(*annotations.HttpRule)
			r.Selector = string(m.FullName())
			rules = append(rules, r)
		}
	}
	extra, _ := proto.GetExtension(fd.Options(), operationspb.E_HttpRules).(*annotations.Http)
	rules = append(rules, extra.GetRules()...)
	var flat []*annotations.HttpRule
	for _, r := range rules {
		flat = append(flat, r)
		for _, b := range r.GetAdditionalBindings() {
			b = proto.Clone(b).(*annotations.HttpRule)
			b.Selector = r.GetSelector()
			flat = append(flat, b)
		}
	}
	return flat, nil
}

// buildRoutes binds every rule of the contract to the registered service
// that implements its method. A rule without an implementation, or one
// that does not fit its method's request message, is a contract the server
// cannot keep: an error at start-up, not a 404 at run time.
func buildRoutes(services []registered) ([]route, error) {
	rules, err := contractRules()
	if err != nil {
		return nil, err
	}
	var routes []route
	for _, r := range rules {
		rt, err := bindRule(r, services)
		if err != nil {
			return nil, fmt.Errorf("google.api.http rule for %s: %w", r.GetSelector(), err)
		}
		routes = append(routes, rt)
	}
	return routes, nil
}

func bindRule(r *annotations.HttpRule, services []registered) (route, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(r.GetSelector()))
	if err != nil {
		return route{}, err
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return route{}, fmt.Errorf("%s is not a method", r.GetSelector())
	}
	rt := route{method: md, body: r.GetBody()}
	var tmpl string
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		rt.httpMethod, tmpl = http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		rt.httpMethod, tmpl = http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		rt.httpMethod, tmpl = http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		rt.httpMethod, tmpl = http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		rt.httpMethod, tmpl = http.MethodPatch, p.Patch
	default:
		return route{}, fmt.Errorf("no supported HTTP method in the rule")
	}
	if rt.tmpl, err = httprule.Parse(tmpl); err != nil {
		return route{}, err
	}
	in := md.Input()
	for _, f := range rt.tmpl.Fields() {
		fd := in.Fields().ByName(protoreflect.Name(f))
		if strings.Contains(f, ".") || fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
			return route{}, fmt.Errorf("path variable %q is not a top-level string field of %s", f, in.FullName())
		}
		rt.pathFields = append(rt.pathFields, fd)
	}
	if rt.body != "" && rt.body != "*" && in.Fields().ByName(protoreflect.Name(rt.body)) == nil {
		return route{}, fmt.Errorf("body %q is not a field of %s", rt.body, in.FullName())
	}
	if rt.body != "" && rt.body != "*" {
		return route{}, fmt.Errorf("body %q: only \"*\" or none is supported", rt.body)
	}
	svc := md.Parent().FullName()
	for _, s := range services {
		if s.desc.ServiceName != string(svc) {
			continue
		}
		for _, m := range s.desc.Methods {
			if m.MethodName == string(md.Name()) {
				h, impl := m.Handler, s.impl
				rt.call = func(ctx context.Context, dec func(any) error) (any, error) {
					return h(impl, ctx, dec, nil)
				}
				return rt, nil
			}
		}
	}
	return route{}, fmt.Errorf("no registered service implements it")
}

// setPath sets the fields the path's variables name. A body that already
// set one to another value disagrees with the path: that is an error
// naming the field, not a silent override.
func (rt *route) setPath(m proto.Message, values []string) error {
	pm := m.ProtoReflect()
	for i, fd := range rt.pathFields {
		v := values[i]
		if got := pm.Get(fd).String(); got != "" && got != v {
			return fieldError(fd.JSONName(), "body "+fd.JSONName()+" "+strconv.Quote(truncate(got))+" disagrees with the path's "+strconv.Quote(truncate(v)))
		}
		pm.Set(fd, protoreflect.ValueOfString(v))
	}
	return nil
}

// setQuery sets the fields the query string names (JSON or proto name,
// dotted for nested messages). Only fields that neither the path nor the
// body binds can be set; any other parameter, a misspelt "pagesize"
// included, is refused rather than ignored.
func (rt *route) setQuery(m proto.Message, q url.Values) error {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if slices.Contains(systemParams, k) {
			continue
		}
		unknown := fieldError(k, "unknown query parameter "+strconv.Quote(truncate(k)))
		if rt.body == "*" {
			return unknown
		}
		msg := m.ProtoReflect()
		parts := strings.Split(k, ".")
		for i, part := range parts {
			fds := msg.Descriptor().Fields()
			fd := fds.ByJSONName(part)
			if fd == nil {
				fd = fds.ByTextName(part)
			}
			if fd == nil || (i == 0 && slices.Contains(rt.pathFields, fd)) || fd.IsMap() {
				return unknown
			}
			if i < len(parts)-1 {
				if fd.Kind() != protoreflect.MessageKind || fd.IsList() {
					return unknown
				}
				msg = msg.Mutable(fd).Message()
				continue
			}
			v, err := scalar(fd, q.Get(k))
			if err != nil {
				return fieldError(k, k+" "+strconv.Quote(truncate(q.Get(k)))+" "+err.Error())
			}
			if fd.IsList() {
				msg.Mutable(fd).List().Append(v)
			} else {
				msg.Set(fd, v)
			}
		}
	}
	return nil
}

// scalar parses a query parameter's value for fd.
func scalar(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("is not a boolean")
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("is not a 32-bit integer")
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("is not a 64-bit integer")
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("is not an unsigned 32-bit integer")
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("is not an unsigned 64-bit integer")
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("is not a number")
		}
		if fd.Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(n)), nil
		}
		return protoreflect.ValueOfFloat64(n), nil
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("is not a value of %s", fd.Enum().FullName())
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
	case protoreflect.BytesKind:
		b, err := base64.URLEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.StdEncoding.DecodeString(s); err != nil {
				return protoreflect.Value{}, fmt.Errorf("is not base64")
			}
		}
		return protoreflect.ValueOfBytes(b), nil
	}
	return protoreflect.Value{}, fmt.Errorf("cannot be given in the query string")
}
