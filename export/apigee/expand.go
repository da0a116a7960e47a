package apigee

import (
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/status"

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

// expanded says whether a developers page read the listing's current way
// can be exported: it is expanded, and, read without count, it starts with
// its startKey. Otherwise the listing steps down (see above) and the caller
// asks for the same page again. A page without count that does not start
// with its startKey means the API does not page that way (the reference
// says startKey "Must be used in conjunction with the count parameter"):
// an API that ignores the startKey answers the list's first page again,
// and only the documented route is sure to page. An API whose startKey is
// exclusive steps down too, paying a call per developer to be right.
func (l *Lister) expanded(p *Page, records []proto.Message, startKey string) bool {
	switch {
	case keyOnly(l.r, records):
		l.stepDown(p, "")
		return false
	case l.noCount && startKey != "" && len(records) > 0 && l.r.Key(records[0]) != startKey:
		l.stepDown(p, "")
		return false
	}
	if startKey != "" {
		l.keyed = true
	}
	return true
}

// rejected handles a developers page refused with 400. The listing steps
// down and the caller asks for the same page again, unless the refusal
// cannot be about expand: the listing is listing emails already, or a page
// with a startKey came back expanded the current way before. Then err
// stands, naming the first request refused if an earlier 400 made the
// listing step down.
func (l *Lister) rejected(p *Page, err error) error {
	if l.listGet || l.keyed {
		if l.refused == nil {
			return err
		}
		// The first refusal names the request; the last adds its own
		// words when they differ, not its URL, which would only double
		// the message.
		last := ""
		if m := apiMessageOf(err); m != "" && m != apiMessageOf(l.refused) {
			last = ", the last with: " + m
		}
		return newError(status.Code(l.refused), err,
			"%v; the other ways of listing developers (without count, then emails with developers.get) were refused too%s", l.refused, last)
	}
	if l.refused == nil {
		l.refused = err
	}
	l.stepDown(p, " (it refused expand with count: HTTP 400)")
	return nil
}

// stepDown moves the listing to its next way of listing developers.
func (l *Lister) stepDown(p *Page, why string) {
	l.dropAhead()
	l.keyed = false
	if !l.noCount {
		l.noCount = true
		p.Warnings = append(p.Warnings, Warning{Text: noCountWarning + why})
		return
	}
	// getDevelopers warns, with the count of developers read one by one.
	l.noCount, l.listGet = false, true
	l.size, l.fits = l.c.pageSize, 0
	if len(p.Records) == 0 {
		// No developer was listed the way noCountWarning names: it would
		// only confuse.
		p.Warnings = slices.DeleteFunc(p.Warnings, func(w Warning) bool { return strings.HasPrefix(w.Text, noCountWarning) })
	}
}

func isBadRequest(err error) bool {
	s, ok := httpStatus(err)
	return ok && s == http.StatusBadRequest
}
