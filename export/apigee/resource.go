package apigee

import (
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/export/apigee/apigeepb"
	"pubexport/formats/field"
)

// Resource names one exportable Apigee collection. Its string form is the
// value of the --resource flag and the path segment of the list method.
type Resource string

// The exportable collections.
const (
	Developers  Resource = "developers"
	Apps        Resource = "apps"
	APIProducts Resource = "apiproducts"
)

// Resources lists every Resource in a stable order (the order of --help).
func Resources() []Resource { return []Resource{Developers, Apps, APIProducts} }

// ParseResource turns a resource name into a Resource. An unknown name is
// INVALID_ARGUMENT wrapping a *field.Error.
func ParseResource(s string) (Resource, error) {
	for _, r := range Resources() {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, 0, 3)
	for _, r := range Resources() {
		names = append(names, string(r))
	}
	return "", fieldError(codes.InvalidArgument, &field.Error{Field: field.Resource, Value: s,
		Problem: fmt.Sprintf("%q cannot be exported", field.Echo(s)), Valid: "use one of " + strings.Join(names, ", ")})
}

// Descriptor is the message type of one record of r.
func (r Resource) Descriptor() protoreflect.MessageDescriptor {
	switch r {
	case Developers:
		return (*apigeepb.Developer)(nil).ProtoReflect().Descriptor()
	case Apps:
		return (*apigeepb.App)(nil).ProtoReflect().Descriptor()
	case APIProducts:
		return (*apigeepb.ApiProduct)(nil).ProtoReflect().Descriptor()
	}
	return nil
}

// New returns an empty record of r, or nil for an unknown Resource.
func (r Resource) New() proto.Message {
	switch r {
	case Developers:
		return new(apigeepb.Developer)
	case Apps:
		return new(apigeepb.App)
	case APIProducts:
		return new(apigeepb.ApiProduct)
	}
	return nil
}

// Key is the identity of a record of r: the developer's email, the app's
// appId, the product's name. It is what key paging continues from and what
// duplicates are recognised by; developerId is not used because Apigee does
// not promise to keep it stable, and app names are unique only per developer.
func (r Resource) Key(m proto.Message) string {
	switch m := m.(type) {
	case *apigeepb.Developer:
		return m.GetEmail()
	case *apigeepb.App:
		return m.GetAppId()
	case *apigeepb.ApiProduct:
		return m.GetName()
	}
	return ""
}

// noun is the singular used in messages ("developer \"a@b\" ...").
func (r Resource) noun() string {
	switch r {
	case Developers:
		return "developer"
	case Apps:
		return "app"
	case APIProducts:
		return "API product"
	}
	return string(r)
}

// keyName is the JSON name of the key field, for messages.
func (r Resource) keyName() string {
	switch r {
	case Developers:
		return "email"
	case Apps:
		return "appId"
	}
	return "name"
}

// keyProtoName is the proto name of the key field (the decoder also
// accepts its JSON name, keyName).
func (r Resource) keyProtoName() string {
	switch r {
	case Developers:
		return "email"
	case Apps:
		return "app_id"
	}
	return "name"
}

// page returns an empty list response of r (the JSON wrapper of one page)
// and a function that takes its records out.
func (r Resource) page() (proto.Message, func(proto.Message) []proto.Message) {
	switch r {
	case Developers:
		return new(apigeepb.ListOfDevelopersResponse), func(m proto.Message) []proto.Message {
			return records(m.(*apigeepb.ListOfDevelopersResponse).GetDeveloper())
		}
	case Apps:
		return new(apigeepb.ListAppsResponse), func(m proto.Message) []proto.Message {
			return records(m.(*apigeepb.ListAppsResponse).GetApp())
		}
	case APIProducts:
		return new(apigeepb.ListApiProductsResponse), func(m proto.Message) []proto.Message {
			return records(m.(*apigeepb.ListApiProductsResponse).GetApiProduct())
		}
	}
	return nil, nil
}

func records[T proto.Message](in []T) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}
