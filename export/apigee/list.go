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
	"sync"
	"unsafe"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
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
	// Overlaps counts apps dropped on this page because an earlier apps
	// pass listed them, as the passes' filters allow (an app with approved
	// and revoked keys is in two): not duplicates, and not in TotalSize's
	// sense new records either (see TotalSize).
	Overlaps int
	Unknown  int // unknown JSON fields and enum values ignored on this page
	// TotalSize is the total the API reports (apps), else -1: for apps the
	// sum of the totalSizes of every apps pass, which counts an app listed
	// by two passes twice; less the Overlaps of every page, it is the
	// number of apps. With TotalAll it is the number of apps itself.
	TotalSize int64
	// TotalAll says that every apps pass reported the same totalSize, so
	// that it counts every app of the organization rather than the pass's
	// filtered list (see appstotal.go): TotalSize is that count, and the
	// Overlaps are not to be taken from it.
	TotalAll bool
	// Expected is the listing's estimate of the records it delivers in
	// all, -1 when it has none: for apps TotalSize less the apps listed
	// twice, those met and those foreseen (see appstotal.go). Progress
	// only: it is not a count the API reported.
	Expected int64
	// Warnings say what the listing worked around or could not keep while
	// it read this page: each unknown field and enum value with its count,
	// a way of listing it had to fall back to.
	Warnings []Warning
	// Spilled is what the readers of later apps passes had spilled by
	// this page (nil without them): a listing resumed at Next reuses it
	// when it is given to ReadAhead.
	Spilled *Spilled
}

// Lister walks one resource of one organization, a page per Next. It holds
// the page being decoded and the next page, which it asks for before Next
// returns (see ahead.go; for an apps pass whose tokens are plain indices,
// up to its cap on requests in flight of the pages after it, see
// indexahead.go), plus 6 bytes per key delivered for deduplication (see
// TrackKeys for deduplication across a resume).
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
	ahead    []*ahead        // requests for the pages at cur and after, made early (see ahead.go)
	bodySize int             // bytes of the last page, to size the next one's buffer
	probed   bool            // apps: the other passes' totals have been asked for
	totals   [len(appsPasses)]int64
	// totalsAll, last, counts and unforeseen: see appstotal.go.
	totalsAll  totalsKind
	last       int64
	counts     [len(appsPasses)]passCounts
	unforeseen int64
	err        error // sticky: a failed listing stays failed

	// sem caps the requests in flight, readers' included (ReadAhead);
	// spill and readers read later apps passes at the same time.
	sem     chan struct{}
	spill   Spill
	readers []*passReader
	from    *Spilled // what a resumed listing's readers start from

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
	// count, after the API ignored or refused expand next to count;
	// listGet lists their emails and gets each developer, after it did
	// not expand that either (see expand.go).
	noCount bool
	listGet bool
	// keyed says that a follow-up page came back expanded the current
	// way, so a 400 after it is not about expand; refused is the first
	// 400 that made the listing step down, which the error names if the
	// last way is refused too (see expand.go).
	keyed   bool
	refused error
	// confirm is the warning to give if the page asked for next brings
	// records: the page before ended in a way that may or may not be the
	// end of the list (see keyPage), and the next page decides.
	confirm  string
	confirmN int64 // the warning's count
	// restarts counts the times the apps pass being read was read again
	// from its start (see appsFallBack).
	restarts int
	// changed, again and rechecked: see appsrecheck.go; the cursor of
	// every page returned carries them.
	changed   bool
	again     int
	rechecked bool

	// pagesBefore is how many pages were read before the cursor the
	// listing started at (NumberPagesFrom), for messages.
	pagesBefore int64

	// noGuess marks the apps passes (bit i for pass i) whose pages
	// showed a token that is not plainly an index, or answered a request
	// by index wrongly: they ask for no page by index until they end (see
	// indexahead.go).
	noGuess int

	noAhead      bool // tests: one request after another, none ahead
	started      int  // tests: requests started, including those dropped
	mispredicted int  // tests: requests ahead for a page the listing did not go to
}

// List starts listing r of org at from (the zero Cursor for the start).
// Nothing is requested until Next.
func (c *Client) List(org string, r Resource, from Cursor) *Lister {
	l := &Lister{c: c, org: org, r: r, cur: from, seen: keyset.New(), tokens: map[string]bool{}, size: c.pageSize}
	for i := range l.totals {
		l.totals[i] = -1
	}
	l.changed, l.again, l.rechecked = from.Changed, from.Again, from.Rechecked
	return l
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

// NumberPagesFrom says that n pages were read before the cursor the
// listing starts at (a resumed export), so that its messages number the
// page they are about as the export does, from n+1, rather than from 1.
func (l *Lister) NumberPagesFrom(n int64) { l.pagesBefore = max(n, 0) }

// pageNumber is the number, for messages, of the page being read: it
// counts the pages returned, and those before a resumed listing's cursor,
// not the requests made for them.
func (l *Lister) pageNumber() int { return int(l.pagesBefore) + l.returned + 1 }

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
// For apps, TotalSize is the sum of every pass's totalSize from the first
// page on: the listing's first call asks each other pass for one app just to
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
	if l.spill != nil && l.readers == nil {
		l.startReaders(ctx)
	}
	p := &Page{TotalSize: -1, Expected: -1}
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
			l.stopReaders()
			l.err = err
			l.seen.TrimFresh(fresh) // of a page never returned
			return nil, err
		}
		if len(l.ahead) > 0 && l.ahead[0].cur != l.cur.request() {
			// The peek and the decoder disagree: a bug, or a page of API
			// products with a list after its records (see keyAhead); not
			// one that loses records, because only l.cur decides what
			// comes next.
			l.mispredicted++
			l.dropAhead()
		}
		if len(p.Records) > 0 {
			break
		}
		if l.cur.Done {
			l.stopReaders()
			if l.returned > 0 && p.Duplicates == 0 && p.Unknown == 0 && len(p.Warnings) == 0 {
				return nil, io.EOF
			}
			break
		}
	}
	l.returned++
	p.Number = l.returned
	if l.r == Apps && !l.cur.Done {
		l.cur.Changed, l.cur.Again, l.cur.Rechecked = l.changed, l.again, l.rechecked
	}
	p.Next = l.cur
	p.Spilled = l.spilledState()
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
			if l.r != Developers || l.listGet || l.expanded(p, data.records, startKey) {
				break
			}
			continue // the same page, listed the next way
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
	items := data.records
	if startKey != "" && len(items) > 0 && l.r.Key(items[0]) == startKey {
		items = items[1:]
	}
	var added int
	before := len(p.Records)
	defer func() {
		p.addUnknown(data.unknownOf(p.Records[before:]))
		p.warnCappedApps(p.Records[before:])
	}()
	if l.listGet {
		// Emails only: the page's new records are read one by one, and
		// one deleted before its get still moved the listing on.
		got, fresh, err := l.getDevelopers(ctx, p, items, num)
		if err != nil {
			return err
		}
		l.add(p, got)
		added = fresh
	} else {
		added = l.add(p, items)
	}

	last := ""
	if len(data.records) > 0 {
		last = l.r.Key(data.records[len(data.records)-1])
	}
	short := !l.noCount && len(data.records) < n
	pending, pendingN := l.confirm, l.confirmN
	l.confirm, l.confirmN = "", 0
	if pending != "" && added > 0 {
		p.Warnings = append(p.Warnings, Warning{Text: pending, Count: pendingN})
	}
	switch {
	case short && startKey != "" && len(data.records) == 0 && len(l.before) > 0:
		// An inclusive startKey brings its own record back, so an empty
		// follow-up page says that record is gone: a server may answer a
		// deleted startKey with an empty page rather than 404. The listing
		// steps back to the record before it, as fallBack does; at the
		// true end of a server whose startKey is exclusive that page
		// brings nothing new and ends the list.
		l.cur = Cursor{StartKey: l.before[len(l.before)-1]}
		l.before = l.before[:len(l.before)-1]
		l.confirm, l.confirmN = deletedWarning(l.r), 1
		if pending == l.confirm {
			l.confirmN += pendingN // a step back from a step back
		}
		return nil
	case short && (!l.shortMayGoOn() || added == 0):
		// A short page is the last one, but for API products, where
		// Spaces may have cut it, only a page that adds nothing is.
		l.cur = Cursor{Done: true}
	case short && last != "" && last != startKey:
		// apiproducts.list "may not return all resources" of Apigee
		// Spaces, leaving out those of Spaces the caller may not list;
		// the reference does not say whether before or after it cuts
		// count, so a short page may have more after it, whether or not
		// the caller sees any product in a Space: the page after it
		// decides, at the cost of one request per listing.
		l.cur = Cursor{StartKey: last}
		l.keepBefore(data.records)
		l.confirm, l.confirmN = spaceCutWarning, 1
		return nil
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

// spaceCutWarning says that a short page of API products was not the last.
const spaceCutWarning = "apiproducts.list answered a page of fewer API products than asked for that was not the last, as it may when it leaves out the products of Apigee Spaces the caller may not list: the listing went on past it; the products of those Spaces are not exported"

// shortMayGoOn says whether a short page of this listing may have more
// after it: API products, which Apigee Spaces may cut (see keyPage).
func (l *Lister) shortMayGoOn() bool { return l.r == APIProducts && !l.noCount }

// deletedWarning says that records of r were deleted under the listing.
func deletedWarning(r Resource) string {
	return fmt.Sprintf("%s deleted while the export paged past them: listing went on from the %s before each (nothing after it is missed)", r, r.noun())
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
	c := l.cur // an apps pass keeps its filters and counts
	c.StartKey = l.before[len(l.before)-1]
	l.cur = c
	l.before = l.before[:len(l.before)-1]
	p.Warnings = append(p.Warnings, Warning{Text: deletedWarning(l.r), Count: 1})
	return true
}

// appsPage fetches one page of the apps list. The list filters on status
// and keyStatus and defaults both to approved, so it is listed once per
// combination (see appsPasses); the Cursor says which pass it is in. A
// pass pages by token, the documented way past 1000 apps, and by rows and
// startKey where the token cannot be trusted or is not sent (see
// appsrepair.go). Each pass starts at the client's page size, whatever an
// earlier pass shrank it to, so that a pass's pages are the same whether or
// not an earlier pass met an oversized page.
func (l *Lister) appsPage(ctx context.Context, p *Page) error {
	pass := l.cur.pass()
	var probed func() error
	if !l.probed {
		probed = l.probe(ctx, pass)
		if l.spill == nil {
			// One request at a time: the probes go first, as ever.
			err := probed()
			if probed = nil; err != nil {
				return err
			}
		} else {
			// Passes read at once: the probes go out with the first
			// page rather than a round trip each before it.
			defer func() {
				if probed != nil { // the page failed: wait for them only
					probed()
				}
			}()
		}
	}
	var (
		cur  Cursor
		data *pageData
		u    string
		num  int
		n    int
		err  error
	)
	for {
		if l.cur.StartKey != "" && l.size < 2 {
			l.size = 2 // a page by key needs room for its startKey's app and one more
		}
		cur, n = l.cur, l.size
		data, u, num, err = l.fetch(ctx, cur, func(s string) (Cursor, bool) { return l.appsAhead(s, cur, n) })
		if err == nil {
			l.fitted(n)
			if l.shifted(p, cur, data) {
				continue // the same pass, by key from the last app read
			}
			break
		}
		floor := 1
		if cur.StartKey != "" {
			floor = 2 // the startKey's app and one more
		}
		switch {
		case l.shrink(err, floor):
		case cur.StartKey != "" && l.appsFallBack(p, err):
		case cur.PageToken != "" && l.tokenRefused(p, err):
		default:
			return l.oversized(ctx, err, num)
		}
	}
	if probed != nil {
		err, probed = probed(), nil
		if err != nil {
			return err
		}
	}
	items := data.records
	if cur.StartKey != "" && len(items) > 0 && Apps.Key(items[0]) == cur.StartKey {
		items = items[1:] // delivered on the page before
	}
	t := passTotal(data)
	if t >= 0 {
		if s := l.totals[pass]; s >= 0 && s != t {
			l.changed = true
		}
		l.totals[pass], l.last = t, t
		l.decideTotals()
	}
	before := len(p.Records)
	l.addApps(p, items, pass)
	p.addUnknown(data.unknownOf(p.Records[before:]))
	if err := l.appsNext(p, cur, data, len(items), n, u, num); err != nil {
		return err
	}
	if l.cur.Done {
		if err := l.recheck(ctx, p); err != nil {
			return err
		}
	}
	p.TotalSize, p.TotalAll = l.pageTotal()
	p.Expected = l.expected(pass)
	return nil
}

// probe asks each apps pass but the listing's own for one app, only to
// learn its totalSize: a few cheap calls buy a progress total for the whole
// listing from its first page on. With the passes read at once (a spill)
// the calls go out together, under the listing's cap on requests in
// flight, and probe returns at once; otherwise they go one after another
// before it returns. The returned wait collects them on the Lister's
// goroutine, which alone touches its state.
func (l *Lister) probe(ctx context.Context, pass int) (wait func() error) {
	type answer struct {
		pass int
		u    string
		num  int
		body []byte
		err  error
	}
	var answers []*answer
	var wg sync.WaitGroup
	for i := range appsPasses {
		if i == pass {
			continue
		}
		l.fetched++
		l.started++
		q := appsQuery(i, 1)
		// rows too: an organization older than 1.10 ignores pageSize
		// ("supported from ver 1.10.0 and above") and would answer 1000
		// apps to tell a number; rows ("Maximum number of app IDs to
		// return") is the other style's size, and says the same.
		q.Set("rows", "1")
		a := &answer{pass: i, u: l.listURL(q), num: l.pageNumber()}
		answers = append(answers, a)
		if l.spill != nil {
			wg.Go(func() { a.body, a.err = l.getSized(ctx, a.u, 0) })
			continue
		}
		a.body, a.err = l.getSized(ctx, a.u, 0)
		if a.err != nil && !errors.As(a.err, new(*tooLargeError)) {
			break // reported by wait; the rest would only fail the same way
		}
	}
	return func() error {
		wg.Wait()
		for _, a := range answers {
			if errors.As(a.err, new(*tooLargeError)) {
				// A single app over the cap: the listing reports it by
				// name when it gets there; the total is only for progress.
				continue
			}
			if a.err != nil {
				return l.requestError(a.err, false, a.num)
			}
			data, err := l.decode(string(a.body), a.u, a.num)
			if err != nil {
				return err
			}
			if t := passTotal(data); t >= 0 {
				l.totals[a.pass] = t
			}
		}
		l.probed = true
		return nil
	}
}

func appsQuery(pass, pageSize int) url.Values {
	return url.Values{
		"expand":      {"true"},
		"includeCred": {"true"},
		"pageSize":    {strconv.Itoa(pageSize)},
		"status":      {appsPasses[pass].status},
		"keyStatus":   {appsPasses[pass].keyStatus},
	}
}

// passTotal is the totalSize of an apps pass, or -1 if the page does not
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

// addApps appends the apps of a page of pass that were not delivered
// before. An app delivered before whose own content matches the filter of
// an earlier pass (its status, and a key of that pass's keyStatus or no
// key at all) was listed there by design and counts as an overlap; any
// other app delivered before is a duplicate (the list changed under the
// export, e.g. the app was revoked between two passes).
func (l *Lister) addApps(p *Page, items []proto.Message, pass int) {
	for _, m := range items {
		a, _ := m.(*apigeepb.App)
		if k := l.r.Key(m); k != "" && !l.seen.Add(k) {
			if l.rechecked {
				continue // read again on purpose (see recheck)
			}
			if a != nil && listedBefore(a, pass) {
				p.Overlaps++
				l.foresee(a, pass, false)
			} else {
				p.Duplicates++
			}
			continue
		}
		if a != nil && !l.rechecked {
			l.foresee(a, pass, true)
		}
		p.Records = append(p.Records, m)
	}
}

// listedBefore says whether a's content matches the filter of a pass
// listed before pass.
func listedBefore(a *apigeepb.App, pass int) bool {
	for _, q := range appsPasses[:pass] {
		if a.GetStatus() != q.status {
			continue
		}
		if len(a.GetCredentials()) == 0 {
			return true
		}
		for _, c := range a.GetCredentials() {
			if c.GetStatus() == q.keyStatus {
				return true
			}
		}
	}
	return false
}

// pageURL is the URL of the page at cur.
func (l *Lister) pageURL(cur Cursor) string {
	if l.r == Apps {
		return l.listURL(appsPageQuery(cur, l.size))
	}
	q := url.Values{"expand": {"true"}, "count": {strconv.Itoa(l.size)}}
	switch {
	case l.listGet:
		q.Set("expand", "false") // emails, which the reference allows with count and startKey
	case l.noCount:
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

// fetch gets the page at cur and decodes it; num is the page's number,
// for messages (see pageNumber). Before decoding, it asks next for where
// the page leads and, when that is known, requests that page ahead.
//
// An apps page asked for by index before its token was seen (see
// indexahead.go) is used only if it is what that index plainly gives;
// otherwise the pass stops asking by index and the page is asked for
// again, as a listing without requests by index would ask for it. Once
// decoded, an apps page may lead to requests by index for the pages after
// the next.
func (l *Lister) fetch(ctx context.Context, cur Cursor, next func(string) (Cursor, bool)) (data *pageData, u string, num int, err error) {
	for {
		body, spilled, err := l.spilled(ctx, cur)
		if err != nil {
			return nil, l.pageURL(cur), l.pageNumber(), err
		}
		guessed := false
		if spilled {
			l.dropAhead()
			l.fetched++
			u = l.pageURL(cur)
		} else {
			body, u, _, guessed, err = l.request(ctx, cur)
		}
		num = l.pageNumber()
		if err != nil {
			return nil, u, num, l.requestError(err, cur.StartKey != "" || cur.PageToken != "", num)
		}
		// The records' strings point into the page's text. The body is
		// this page's own (Client.get reads every response into a new
		// slice that nothing writes afterwards), so it becomes the text
		// without a copy: a page less to allocate and collect per page
		// (~0.9 MB for 1000 apps).
		text := unsafe.String(unsafe.SliceData(body), len(body))
		l.bodySize = len(body)
		if !l.noAhead {
			if c, ok := next(text); ok && !l.readingAhead(c) {
				if len(l.ahead) == 0 || !l.matches(l.ahead[0], c) {
					l.dropAhead()
					l.requestAhead(ctx, c, false)
				}
			} else {
				l.dropAhead() // the requests by index went past the end
			}
		}
		data, err = l.decode(text, u, num)
		if guessed && (err != nil || !indexAnswers(cur, data, l.size)) {
			l.stopGuessing(cur.pass())
			l.dropAhead()
			continue // the same page, asked for by the listing itself
		}
		if err == nil && l.r == Apps {
			l.guessAhead(ctx, cur, data)
		}
		return data, u, num, err
	}
}

// readingAhead says whether a reader has or may still get the page at c.
func (l *Lister) readingAhead(c Cursor) bool {
	if l.readers == nil || l.r != Apps || c.Done {
		return false
	}
	r := l.readers[c.pass()]
	return r != nil && !r.closed
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
