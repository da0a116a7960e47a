package apigee

import (
	"net/http"

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
// steps down, for the rest of the listing and saying so in the warnings:
//
//  1. to expand=true with startKey and no count, where the API pages by its
//     own default size: one call per page still, and what widely used
//     clients send, though the reference also says startKey "Must be used
//     in conjunction with the count parameter";
//  2. if the API does not expand that form either, to the documented route,
//     list-then-get (see listget.go): emails paged with expand=false, count
//     and startKey, then developers.get for each, one call per developer.
//
// A 400 to the list-then-get page itself is the API's own error, not about
// expand, and fails the listing as any refusal does.
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

// unexpanded handles a developers page that came back unexpanded (emails
// and nothing else): the listing steps down (see above) and the caller
// asks for the same page again.
func (l *Lister) unexpanded(p *Page) {
	l.stepDown(p, "")
}

// rejected handles a developers page refused with 400: unless the listing
// is listing emails already, where the refusal is not about expand and err
// stands, it steps down and the caller asks for the same page again.
func (l *Lister) rejected(p *Page, err error) error {
	if l.listGet {
		return err
	}
	l.stepDown(p, " (it refused expand with count: HTTP 400)")
	return nil
}

// stepDown moves the listing to its next way of listing developers.
func (l *Lister) stepDown(p *Page, why string) {
	l.dropAhead()
	if !l.noCount {
		l.noCount = true
		p.Warnings = append(p.Warnings, Warning{Text: noCountWarning + why})
		return
	}
	// getDevelopers warns, with the count of developers read one by one.
	l.noCount, l.listGet = false, true
	l.size, l.fits = l.c.pageSize, 0
}

func isBadRequest(err error) bool {
	s, ok := httpStatus(err)
	return ok && s == http.StatusBadRequest
}
