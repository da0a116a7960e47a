package apigee

import (
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Developers whose expand is not honoured.
//
// The listing asks for developers with expand=true together with count and
// startKey, and the API reference says expand "is not valid if you use the
// count or startKey query parameters". The Apigee API expands them anyway
// today, but an API that honours the reference may answer in the
// expand=false shape, {"developer": [{"email": ...}]}, or refuse the
// request with 400. Exporting such a page would write records with every
// field but the email missing, so it is never exported. Instead the listing
// falls back, for the rest of the listing, to expand=true with startKey and
// no count, where the API pages by its own default size, and says so in
// the warnings. If the API does not expand that form either, the listing
// fails with FAILED_PRECONDITION: nothing about the request is wrong and
// retrying will not help; the organization needs a way of listing that
// this client does not have (list the emails, then get each developer).
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

const noCountWarning = "the Apigee API does not expand developers listed with count, as its reference warns (expand \"is not valid if you use the count or startKey query parameters\"), so developers were listed with expand=true and startKey only, in pages of the API's default size"

// unexpanded handles a developers page that came back unexpanded (n records
// with an email and nothing else): the first time it switches the listing
// to pages without count, which the caller asks for again; after that it is
// the FAILED_PRECONDITION error.
func (l *Lister) unexpanded(p *Page, num int, u string, n int) error {
	if !l.noCount {
		l.noCount = true
		p.Warnings = append(p.Warnings, Warning{Text: noCountWarning})
		return nil
	}
	return newError(codes.FailedPrecondition, nil,
		"listing developers of organization %q: page %d (GET %s) returned unexpanded developers (%d records with an email and no other field): the API ignores expand=true next to count, and also next to startKey alone, which its reference says is not valid. Exporting them would drop every other field of every developer, so the listing stops here and exports nothing incomplete. This organization needs developers listed by email and then read one by one (list-then-get), which is not implemented",
		l.org, num, u, n)
}

// rejected handles a developers page refused with 400 while asked for with
// count: the first time it switches the listing to pages without count;
// a page without count refused after others were served is the
// FAILED_PRECONDITION error; one refused before is the API's own error.
func (l *Lister) rejected(p *Page, err error) error {
	if l.noCount && l.noCountPages == 0 {
		// Refused both ways from the same place: not about expand.
		return err
	}
	if !l.noCount {
		l.noCount = true
		p.Warnings = append(p.Warnings, Warning{Text: noCountWarning + " (it refused expand with count: HTTP 400)"})
		return nil
	}
	return newError(codes.FailedPrecondition, err,
		"listing developers of organization %q: the API refuses expand=true next to count and next to startKey (%v), as its reference says it may; this organization needs developers listed by email and then read one by one (list-then-get), which is not implemented",
		l.org, err)
}

func isBadRequest(err error) bool {
	s, ok := httpStatus(err)
	return ok && s == http.StatusBadRequest
}
