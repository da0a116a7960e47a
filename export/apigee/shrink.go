package apigee

import (
	"context"
	"errors"
	"net/url"
	"strconv"

	"google.golang.org/grpc/codes"
)

// Pages over the response cap.
//
// The client reads at most its response cap (32 MiB) of one answer. Records
// vary in size by orders of magnitude: an API product with 150 operation
// configs is ~45 KB, so 1000 of them make a page of 45 MB, which is still a
// perfectly good Apigee page. So a page over the cap is asked for again
// with half the records (count, or pageSize for apps), down to one, and
// only a single record over the cap fails the listing, by name. The
// smaller size holds for growAfter pages that fit, then doubles again, so
// one huge record does not slow the rest of the listing for good.

// growAfter is how many pages must fit before the page size doubles again.
const growAfter = 8

// shrink halves the page size after err, if err is a page over the cap and
// the size is above floor, and reports whether it did: the caller asks for
// the same page again.
func (l *Lister) shrink(err error, floor int) bool {
	if !errors.As(err, new(*tooLargeError)) || l.size <= floor {
		return false
	}
	l.size = max(l.size/2, floor)
	l.fits = 0
	return true
}

// fitted notes a page of n records that fitted under the cap.
func (l *Lister) fitted(n int) {
	if l.size >= l.c.pageSize || n != l.size {
		return
	}
	if l.fits++; l.fits >= growAfter {
		l.size = min(l.size*2, l.c.pageSize)
		l.fits = 0
	}
}

// oversized is err, unless err is a page over the cap at the smallest size:
// then a single record is larger than the cap, and the error names it
// (learnt from the same page without expand, which is only keys) and the
// cap, since neither a smaller page nor a retry can get it through.
func (l *Lister) oversized(ctx context.Context, err error, num int) error {
	var tl *tooLargeError
	if !errors.As(err, &tl) {
		return err
	}
	if l.noCount {
		return newError(codes.FailedPrecondition, err,
			"listing %s of organization %q, page %d: a page of the API's default size (listed without count, since the API does not expand developers with count) is larger than %s, the most this client reads of one answer",
			l.r, l.org, num, mib(tl.limit))
	}
	what := "a " + l.r.noun()
	if k := l.keyAt(ctx, l.cur); k != "" {
		what = l.r.noun() + " " + strconv.Quote(k)
	} else if l.cur.StartKey != "" {
		what = "the " + l.r.noun() + " after " + strconv.Quote(l.cur.StartKey)
	}
	return newError(codes.FailedPrecondition, err,
		"listing %s of organization %q, page %d: %s is larger than %s on its own, the most this client reads of one answer, so it cannot be exported; the records before it were read in pages of fewer records",
		l.r, l.org, num, what, mib(tl.limit))
}

// keyAt is the key of the record that a one-record page at cur would
// bring (the one after the startKey), read without expand; "" if it cannot
// be learnt.
func (l *Lister) keyAt(ctx context.Context, cur Cursor) string {
	var q url.Values
	if l.r == Apps {
		n := 1
		if cur.StartKey != "" {
			n = 2 // the startKey's app and the one after it
		}
		q = appsPageQuery(cur, n)
		q.Set("expand", "false")
		q.Del("includeCred")
	} else {
		q = url.Values{"count": {"2"}}
		if cur.StartKey != "" {
			q.Set("startKey", cur.StartKey)
		}
		if l.r == Developers {
			q.Set("includeCompany", "true")
		}
	}
	l.fetched++
	l.started++
	body, err := l.getSized(ctx, l.listURL(q), 0)
	if err != nil {
		return ""
	}
	data, err := decodeText(l.r, string(body))
	if err != nil {
		return ""
	}
	for _, m := range data.records {
		if k := l.r.Key(m); k != "" && k != cur.StartKey {
			return k
		}
	}
	return ""
}
