package apigee

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// Developers listed by email, then read one by one (list-then-get).
//
// When the API expands developers in no paged form (see expand.go), the
// listing takes the route its reference documents: key pages of emails
// (expand=false with count and startKey, which the reference allows
// together), then organizations.developers.get for each email on the page.
// Paging, the startKey record repeated at the top of each page, the cursor
// (an email) and deduplication are those of the key paging: only where a
// page's records come from changes. The gets of a page run several at once,
// under the listing's cap on requests in flight (ReadAhead) and the
// client's rate limit and retries, and the page keeps the list's order.
//
// It costs one call per developer on top of the key pages, and a developer
// deleted between its page and its get is gone (404): it is skipped and
// counted, since it no longer exists and nothing after it is affected.

const listThenGetWarning = "the Apigee API does not expand developers listed with count or startKey, as its reference warns (expand \"is not valid if you use the count or startKey query parameters\"), so developers were listed by email (expand=false with count and startKey) and each read with developers.get: one call per developer"

const goneBeforeGetWarning = "developers deleted between their listing and their get were skipped (they no longer exist)"

// getDevelopers reads each developer of items (a key-only page, its
// startKey record already dropped) that the listing has not delivered, in
// the page's order, and returns them with the number of emails that stood
// for new developers (read, or deleted before their get), which is what
// keyPage counts as the page's new records. Developers delivered before
// count as duplicates, as on an expanded page. num is the page's number,
// for messages.
func (l *Lister) getDevelopers(ctx context.Context, p *Page, items []proto.Message, num int) ([]proto.Message, int, error) {
	var emails []string
	for _, m := range items {
		k := l.r.Key(m)
		switch {
		case k == "":
			return nil, 0, newError(codes.DataLoss, nil,
				"listing developers of organization %q: page %d lists a developer without an email, which cannot be read with developers.get",
				l.org, num)
		case l.seen.Has(k):
			p.Duplicates++
		default:
			emails = append(emails, k)
		}
	}
	if len(emails) == 0 {
		return nil, 0, nil
	}
	got := make([]*pageData, len(emails))
	parallel := DefaultParallelRequests
	if l.sem != nil {
		parallel = cap(l.sem) // and getSized holds its slots
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, email := range emails {
		g.Go(func() error {
			d, err := l.getDeveloper(gctx, email, num)
			got[i] = d
			return err
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, 0, contextError(ctx.Err(), "reading developers of organization "+l.org)
		}
		return nil, 0, err
	}
	out := make([]proto.Message, 0, len(emails))
	gone := 0
	for _, d := range got {
		if d == nil {
			gone++
			continue
		}
		p.addUnknown(d.unknown)
		out = append(out, d.records[0])
	}
	p.Warnings = append(p.Warnings, Warning{Text: listThenGetWarning, Count: int64(len(emails))})
	if gone > 0 {
		p.Warnings = append(p.Warnings, Warning{Text: goneBeforeGetWarning, Count: int64(gone)})
	}
	return out, len(emails), nil
}

// getDeveloper reads one developer with developers.get, decoded as the
// only record of a developers page, so that it is decoded and its unknown
// fields named exactly as on an expanded page; nil without error if it no
// longer exists.
func (l *Lister) getDeveloper(ctx context.Context, email string, num int) (*pageData, error) {
	u := l.c.orgURL(l.org) + "/developers/" + url.PathEscape(email)
	body, err := l.getSized(ctx, u, 0)
	if s, ok := httpStatus(err); ok && s == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		var ce *codedError
		if errors.As(err, &ce) {
			return nil, newError(ce.st.Code(), err, "listing developers of organization %q: reading developer %q of page %d: %v", l.org, email, num, err)
		}
		return nil, err
	}
	text := strings.TrimSpace(string(body))
	if !strings.HasPrefix(text, "{") || !strings.HasSuffix(text, "}") {
		return nil, newError(codes.DataLoss, nil, "listing developers of organization %q: GET %s did not answer a developer (a JSON object)", l.org, RedactURL(u))
	}
	data, err := l.decode(`{"developer":[`+text+`]}`, RedactURL(u), num)
	if err != nil {
		return nil, err
	}
	if len(data.records) != 1 || !strings.EqualFold(l.r.Key(data.records[0]), email) {
		return nil, newError(codes.DataLoss, nil, "listing developers of organization %q: GET %s answered %s, not developer %q",
			l.org, RedactURL(u), describeGot(l.r, data.records), email)
	}
	return data, nil
}

func describeGot(r Resource, recs []proto.Message) string {
	if len(recs) != 1 {
		return fmt.Sprintf("%d developers", len(recs))
	}
	return fmt.Sprintf("developer %q", r.Key(recs[0]))
}
