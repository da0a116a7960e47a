package apigee

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Guarding against unexpanded developer lists.
//
// The listing asks for developers with expand=true together with count and
// startKey, and the API reference says expand "is not valid if you use the
// count or startKey query parameters". The Apigee API expands them anyway
// today, but if it (or one organization's deployment) ever honoured the
// reference, it would answer in the expand=false shape, {"developer":
// [{"email": ...}]}, and an export would write records with every field but
// the email missing, without an error. So a developers page on which every
// record has its email and nothing else fails the listing instead.
//
// The rule is about the whole page, not one record: a developer may
// legitimately have little besides an email, but a page where no developer
// has anything else is the unexpanded shape (a real developer has at least
// developerId, createdAt and status).

// keyOnly reports whether records is not empty and every record in it has
// its key field (email, name, appId) set and no other field.
func keyOnly(r Resource, records []proto.Message) bool {
	if len(records) == 0 {
		return false
	}
	key := protoreflect.Name(r.keyProtoName())
	for _, m := range records {
		fields, other := 0, false
		m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			fields++
			other = fd.Name() != key
			return !other
		})
		if other || fields == 0 {
			return false
		}
	}
	return true
}

// checkExpanded fails a developers page that came back unexpanded (see
// above) with FAILED_PRECONDITION: nothing about the request is wrong and
// retrying will not help; the organization needs a way of listing that this
// client does not have.
func (l *Lister) checkExpanded(records []proto.Message, num int, u string) error {
	if l.r != Developers || !keyOnly(l.r, records) {
		return nil
	}
	return newError(codes.FailedPrecondition, nil,
		"listing developers of organization %q: page %d (GET %s) returned unexpanded developers (%d records with an email and no other field): the API ignored expand=true, which its reference says is not valid with count or startKey. Exporting them would drop every other field of every developer, so the listing stops here and exports nothing incomplete. This organization needs developers listed by email and then read one by one (list-then-get), which is not implemented",
		l.org, num, u, len(records))
}
