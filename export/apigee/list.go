package apigee

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unsafe"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/internal/keyset"
	"pubexport/export/apigee/internal/pagejson"
)

// Page is one page of a listing.
//
// Duplicates counts records the listing had already delivered (the API
// repeated them, e.g. because the list changed under it). The record that
// key paging repeats by design at the top of each follow-up page is not a
// duplicate in this sense and is not counted.
type Page struct {
	Number     int             // 1-based, counted from the cursor the listing started at
	Records    []proto.Message // new records of this page (boundary duplicates and repeats removed)
	Next       Cursor          // where a listing resumed after this page continues
	Duplicates int             // records dropped on this page because they were seen before
	Unknown    int             // unknown JSON fields and enum values ignored on this page
	TotalSize  int64           // total records when the API reports one (apps), else -1
	// Warnings say what the listing worked around or could not keep while
	// it read this page: each unknown field and enum value with its count,
	// a way of listing it had to fall back to.
	Warnings []Warning
}

// Lister walks one resource of one organization, a page per Next. It holds
// the page being decoded and the next page, which it asks for before Next
// returns (see ahead.go), plus 8 bytes per key delivered for deduplication
// (see TrackKeys for deduplication across a resume).
// A Lister is not safe for concurrent use.
type Lister struct {
	c   *Client
	org string
	r   Resource
	cur Cursor

	seen     *keyset.Set
	tokens   map[string]bool // apps page tokens followed in the current pass
	returned int             // pages returned
	fetched  int             // requests made, for messages
	ahead    *ahead          // the request for the page at cur, made early
	bodySize int             // bytes of the last page, to size the next one's buffer
	probed   bool            // apps: the other pass's total has been asked for
	totals   map[string]int64
	err      error // sticky: a failed listing stays failed

	// size is the records asked for per page: the client's page size,
	// halved while pages come back over the client's response cap (see
	// shrink), and grown back after growAfter pages that fit.
	size int
	fits int
	// before holds the keys that came before the page's last one on the
	// last key page, newest last: if the record a follow-up page starts
	// from is deleted while the export runs (the API answers 404), the
	// listing continues from the one before it (see fallBack).
	before []string
	// noCount lists developers with expand=true and startKey but no
	// count, after the API ignored or refused expand next to count.
	noCount      bool
	noCountPages int // pages served without count

	noAhead      bool // tests: one request after another, none ahead
	started      int  // tests: requests started, including those dropped
	mispredicted int  // tests: requests ahead for a page the listing did not go to
}

// List starts listing r of org at from (the zero Cursor for the start).
// Nothing is requested until Next.
func (c *Client) List(org string, r Resource, from Cursor) *Lister {
	return &Lister{c: c, org: org, r: r, cur: from, seen: keyset.New(), tokens: map[string]bool{},
		totals: map[string]int64{statusApproved: -1, statusRevoked: -1}, size: c.pageSize}
}

// TrackKeys makes the listing's deduplication survive a resume. The listing
// hashes record keys under seed, and keeps the hash of every record it
// delivers from now on for TakeNewKeys, so that the caller can store them
// with its checkpoints; a listing resumed later from such a checkpoint calls
// TrackKeys with the same seed and gives Seen the hashes stored so far, and
// then drops the records the interrupted listing delivered, as one listing
// that never stopped would. Call it before the first Next: hashes made under
// another seed cannot be compared, so a later call fails the listing.
func (l *Lister) TrackKeys(seed KeySeed) {
	if l.returned > 0 || !l.seen.Empty() {
		if l.err == nil {
			l.err = newError(codes.Internal, nil, "listing %s of organization %q: TrackKeys after Next; this is a bug", l.r, l.org)
		}
		return
	}
	l.seen.SetSeed(seed)
	l.seen.Track()
}

// Seen records hashes that TakeNewKeys returned to an earlier listing of
// the same resource under the same seed, as delivered already. It may be
// called several times (a stored part at a time), before or between calls
// to Next.
func (l *Lister) Seen(hashes []uint64) { l.seen.Load(hashes) }

// TakeNewKeys returns the hashes of the keys of the records delivered since
// the last call (nil without TrackKeys), and forgets them. Keys are recorded
// when Next returns their page, never for a page only requested ahead, so
// the hashes taken after a Next are exactly those of the pages returned.
func (l *Lister) TakeNewKeys() []uint64 { return l.seen.TakeFresh() }

// Next returns the next page with new records, or io.EOF after the last.
// For apps, TotalSize is approved plus revoked apps from the first page on:
// the listing's first call asks the other status pass for one app just to
// learn its totalSize.
// Pages that bring nothing new are not returned, except that the first
// Next returns a page even for an empty list (so that callers learn the
// total). Errors carry gRPC codes; after an error Next returns it again.
//
// Before it returns a page, Next asks for the page after it (in the
// background, under ctx), so that its round trip overlaps the caller's work;
// that request's error, if any, comes from the Next call for its page.
// Cancelling ctx ends it; see Close for callers that stop early.
func (l *Lister) Next(ctx context.Context) (*Page, error) {
	if l.err != nil {
		return nil, l.err
	}
	if l.cur.Done {
		return nil, io.EOF
	}
	if err := checkOrg(l.org); err != nil {
		l.err = err
		return nil, err
	}
	if l.r.Descriptor() == nil {
		_, err := ParseResource(string(l.r))
		l.err = err
		return nil, err
	}
	p := &Page{TotalSize: -1}
	fresh := l.seen.FreshLen()
	for {
		var err error
		if l.r == Apps {
			err = l.appsPage(ctx, p)
		} else {
			err = l.keyPage(ctx, p)
		}
		if err != nil {
			l.dropAhead()
			l.err = err
			l.seen.TrimFresh(fresh) // of a page never returned
			return nil, err
		}
		if a := l.ahead; a != nil && a.cur != l.cur {
			// peekPage and the decoder disagree: a bug, but not one that
			// loses records, because only l.cur decides what comes next.
			l.mispredicted++
			l.dropAhead()
		}
		if len(p.Records) > 0 {
			break
		}
		if l.cur.Done {
			if l.returned > 0 && p.Duplicates == 0 && p.Unknown == 0 && len(p.Warnings) == 0 {
				return nil, io.EOF
			}
			break
		}
	}
	l.returned++
	p.Number = l.returned
	p.Next = l.cur
	return p, nil
}

// keyPage fetches one page of a startKey/count list (developers,
// apiproducts). Apigee's startKey is inclusive, so a follow-up page begins
// with the record the previous page ended with; it is dropped by key, never
// blindly, because a server that does not repeat it would otherwise lose a
// record per page.
func (l *Lister) keyPage(ctx context.Context, p *Page) error {
	startKey := l.cur.StartKey
	var (
		data *pageData
		u    string
		num  int
		n    int
		err  error
	)
	for {
		n = l.size
		data, u, num, err = l.fetch(ctx, l.cur, func(s string) (Cursor, bool) { return l.keyAhead(s, startKey, n) })
		// A follow-up page repeats its startKey record, so it needs room
		// for 2 to bring a new one.
		floor := 1
		if startKey != "" {
			floor = 2
		}
		switch {
		case err == nil:
			if !keyOnly(l.r, data.records) || l.r != Developers {
				break
			}
			if err := l.unexpanded(p, num, u, len(data.records)); err != nil {
				return err
			}
			continue // the same page, without count
		case !l.noCount && l.shrink(err, floor):
			continue
		case startKey != "" && l.fallBack(p, err):
			startKey = l.cur.StartKey
			continue
		case l.r == Developers && isBadRequest(err):
			if err := l.rejected(p, err); err != nil {
				return err
			}
			continue
		default:
			return l.oversized(ctx, err, num)
		}
		break
	}
	l.fitted(n)
	if l.noCount {
		l.noCountPages++
	}
	items := data.records
	if startKey != "" && len(items) > 0 && l.r.Key(items[0]) == startKey {
		items = items[1:]
		// Counted on the page before.
		for k, n := range data.unknownFirst {
			data.unknown[k] -= n
			if data.unknown[k] <= 0 {
				delete(data.unknown, k)
			}
		}
	}
	p.addUnknown(data.unknown)
	added := l.add(p, items)

	last := ""
	if len(data.records) > 0 {
		last = l.r.Key(data.records[len(data.records)-1])
	}
	switch {
	case !l.noCount && len(data.records) < n:
		// A short page is the last one.
		l.cur = Cursor{Done: true}
	case l.noCount && (len(data.records) == 0 || (startKey != "" && len(data.records) == 1 && last == startKey)):
		// Without count the page size is the API's to choose, so only a
		// page with nothing after its startKey ends the list.
		l.cur = Cursor{Done: true}
	case startKey != "" && last == startKey:
		return newError(codes.Internal, nil,
			"listing %s of organization %q: page %d (GET %s) is full but ends with its startKey %q: the listing does not advance; this is an API fault, please report it",
			l.r, l.org, num, u, startKey)
	case startKey != "" && added == 0:
		// A follow-up page that adds nothing new ends the list, even when
		// it is full: the server is repeating itself.
		l.cur = Cursor{Done: true}
	case last == "":
		return newError(codes.DataLoss, nil,
			"listing %s of organization %q: page %d (GET %s) ends with a %s without %s, so paging cannot continue",
			l.r, l.org, num, u, l.r.noun(), l.r.keyName())
	default:
		l.cur = Cursor{StartKey: last}
		l.keepBefore(data.records)
	}
	return nil
}

// maxBefore bounds the keys kept for fallBack: records deleted while an
// export runs are rare, and each one only costs a step back.
const maxBefore = 16

// keepBefore keeps the keys of the records before the last of a full page,
// for fallBack.
func (l *Lister) keepBefore(records []proto.Message) {
	l.before = l.before[:0]
	for _, r := range records[max(0, len(records)-1-maxBefore) : len(records)-1] {
		if k := l.r.Key(r); k != "" {
			l.before = append(l.before, strings.Clone(k))
		}
	}
}

// fallBack handles a follow-up page that failed with 404 because the
// record it starts from was deleted after the page before was read: Apigee
// answers a startKey that no longer exists with 404 (developer_doesnot_exist)
// instead of continuing from where it was. The listing continues from the
// record before it instead, whose page repeats records already delivered
// (deduplication drops them), and a warning says so. It reports whether it
// moved the cursor; once the kept keys run out (a whole page deleted under
// the export, or a deletion right after a resume, which starts with none
// kept) the 404 stands and the listing fails ABORTED.
func (l *Lister) fallBack(p *Page, err error) bool {
	if s, ok := httpStatus(err); !ok || s != http.StatusNotFound || len(l.before) == 0 {
		return false
	}
	l.dropAhead()
	l.cur = Cursor{StartKey: l.before[len(l.before)-1]}
	l.before = l.before[:len(l.before)-1]
	p.Warnings = append(p.Warnings, Warning{
		Text:  fmt.Sprintf("%s deleted while the export paged past them: listing went on from the %s before each (nothing after it is missed)", l.r, l.r.noun()),
		Count: 1,
	})
	return true
}

// appsPage fetches one page of the token-paged apps list. The list filters
// on status and defaults to approved, so it is listed twice: approved apps,
// then revoked ones; the Cursor says which pass it is in.
func (l *Lister) appsPage(ctx context.Context, p *Page) error {
	pass := l.cur.pass()
	if !l.probed {
		if err := l.probe(ctx, pass); err != nil {
			return err
		}
	}
	token := l.cur.PageToken
	var (
		data *pageData
		u    string
		num  int
		err  error
	)
	for {
		n := l.size
		data, u, num, err = l.fetch(ctx, l.cur, func(s string) (Cursor, bool) { return l.tokenAhead(s, pass, token) })
		if err == nil {
			l.fitted(n)
			break
		}
		if !l.shrink(err, 1) {
			return l.oversized(ctx, err, num)
		}
	}
	p.addUnknown(data.unknown)
	if t := passTotal(data); t >= 0 {
		l.totals[pass] = t
	}
	l.add(p, data.records)

	next := data.nextToken
	switch {
	case next != "" && (next == token || l.tokens[next]):
		return newError(codes.Internal, nil,
			"listing apps of organization %q: page %d (GET %s) returned nextPageToken %q, which was followed already: the listing does not advance; this is an API fault, please report it",
			l.org, num, u, next)
	case next != "":
		l.tokens[next] = true
		l.cur = Cursor{Status: pass, PageToken: next}
	case pass == statusApproved:
		l.tokens = map[string]bool{}
		l.cur = Cursor{Status: statusRevoked}
	default:
		l.cur = Cursor{Done: true}
	}
	p.TotalSize = -1
	if a, r := l.totals[statusApproved], l.totals[statusRevoked]; a >= 0 && r >= 0 {
		p.TotalSize = a + r
	}
	return nil
}

// probe asks for one app of the pass the listing is not in, only to learn
// that pass's totalSize: one cheap call buys a progress total for the whole
// listing from its first page on.
func (l *Lister) probe(ctx context.Context, pass string) error {
	other := statusRevoked
	if pass == statusRevoked {
		other = statusApproved
	}
	u := l.listURL(appsQuery(other, 1))
	l.fetched++
	l.started++
	body, err := l.c.get(ctx, u)
	if errors.As(err, new(*tooLargeError)) {
		// A single app over the cap: the listing reports it by name when
		// it gets there; the total is only for progress.
		l.probed = true
		return nil
	}
	if err != nil {
		return l.requestError(err, false, l.fetched)
	}
	data, err := l.decode(string(body), u, l.fetched)
	if err != nil {
		return err
	}
	l.probed = true
	if t := passTotal(data); t >= 0 {
		l.totals[other] = t
	}
	return nil
}

func appsQuery(status string, pageSize int) url.Values {
	return url.Values{
		"expand":      {"true"},
		"includeCred": {"true"},
		"pageSize":    {strconv.Itoa(pageSize)},
		"status":      {status},
	}
}

// passTotal is the totalSize of a status pass, or -1 if the page does not
// tell. Google omits zero numbers from JSON, so an empty last page without
// totalSize means an empty pass.
func passTotal(d *pageData) int64 {
	switch {
	case d.total >= 0:
		return d.total
	case len(d.records) == 0 && d.nextToken == "":
		return 0
	}
	return -1
}

// add appends the records not delivered before and returns how many.
// Records without a key cannot be recognised and are always kept.
func (l *Lister) add(p *Page, items []proto.Message) int {
	added := 0
	for _, m := range items {
		if k := l.r.Key(m); k != "" && !l.seen.Add(k) {
			p.Duplicates++
			continue
		}
		p.Records = append(p.Records, m)
		added++
	}
	return added
}

// pageURL is the URL of the page at cur.
func (l *Lister) pageURL(cur Cursor) string {
	if l.r == Apps {
		q := appsQuery(cur.pass(), l.size)
		if cur.PageToken != "" {
			q.Set("pageToken", cur.PageToken)
		}
		return l.listURL(q)
	}
	q := url.Values{"expand": {"true"}, "count": {strconv.Itoa(l.size)}}
	if l.noCount {
		q.Del("count")
	}
	if cur.StartKey != "" {
		q.Set("startKey", cur.StartKey)
	}
	if l.r == Developers {
		// Without it the list leaves out company developers ("By default,
		// the response does not include company developers").
		q.Set("includeCompany", "true")
	}
	return l.listURL(q)
}

func (l *Lister) listURL(q url.Values) string {
	return l.c.orgURL(l.org) + "/" + string(l.r) + "?" + q.Encode()
}

// fetch gets the page at cur and decodes it; num is the request's number
// in the listing, for messages. Before decoding, it asks next for where
// the page leads and, when that is known, requests that page ahead.
func (l *Lister) fetch(ctx context.Context, cur Cursor, next func(string) (Cursor, bool)) (data *pageData, u string, num int, err error) {
	body, u, num, err := l.request(ctx, cur)
	if err != nil {
		return nil, u, num, l.requestError(err, cur.StartKey != "" || cur.PageToken != "", num)
	}
	// The records' strings point into the page's text. The body is this
	// page's own (Client.get reads every response into a new slice that
	// nothing writes afterwards), so it becomes the text without a copy: a
	// page less to allocate and collect per page (~0.9 MB for 1000 apps).
	text := unsafe.String(unsafe.SliceData(body), len(body))
	l.bodySize = len(body)
	if !l.noAhead {
		if c, ok := next(text); ok {
			l.requestAhead(ctx, c)
		}
	}
	data, err = l.decode(text, u, num)
	return data, u, num, err
}

// requestError gives a failed request of page num its message; follow
// says it asked for a follow-up page.
func (l *Lister) requestError(err error, follow bool, num int) error {
	if s, ok := httpStatus(err); ok && s == http.StatusNotFound && follow {
		// The record a follow-up page starts from was deleted (or the
		// token expired) while the export ran: key paging cannot
		// continue from a key that no longer exists.
		return newError(codes.Aborted, err,
			"listing %s of organization %q: page %d could not be read because the organization changed during the export (%v); run the export again",
			l.r, l.org, num, err)
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return newError(ce.st.Code(), err, "listing %s of organization %q, page %d: %v", l.r, l.org, num, err)
	}
	return err
}

// decode decodes page num, the answer to u.
func (l *Lister) decode(text, u string, num int) (*pageData, error) {
	data, err := decodeText(l.r, text)
	if err != nil {
		var se *pagejson.SyntaxError
		if errors.As(err, &se) {
			// se names the field and the kind of token, never the page's
			// text: the page may hold secrets.
			where := ""
			if se.Path != "" {
				where = " in " + se.Path
			}
			return nil, newError(codes.DataLoss, err,
				"listing %s of organization %q: page %d (GET %s) is not a valid %s list: malformed JSON at byte offset %d of %d%s: %s",
				l.r, l.org, num, u, l.r, se.Offset, len(text), where, se.Msg)
		}
		return nil, newError(codes.DataLoss, err, "listing %s of organization %q: page %d (GET %s): %v", l.r, l.org, num, u, err)
	}
	return data, nil
}
