package apigee

import (
	"net/http"
	"net/url"
	"strconv"

	"google.golang.org/grpc/codes"
)

// Paging an apps pass when its token cannot be trusted or is not sent.
//
// organizations.apps.list pages by token, the documented way past 1000
// apps, but documents pageToken as "The starting index record" and
// pageSize and pageToken as "supported from ver 1.10.0 and above"
// (apigee-api.md §7.3). Its other paging style is key-anchored: startKey
// "Returns the list of apps starting from the specified app ID", rows
// "Defaults to 1000, which is also the upper limit". Two ways to lose apps
// follow, and each pass guards against both:
//
//   - An index token shifts. An app deleted, or revoked (which moves it to
//     another pass), before the index while the export pages moves every
//     later app one place up, and the app that was first on the next page
//     is on none; the pass's totalSize falls by the same one, so the
//     listing's count still agrees with it and nothing would warn. So each
//     pass remembers the last app it delivered and its totalSize as last
//     seen (in the Cursor, so a resumed listing does too); a follow-up page
//     whose totalSize is lower is not trusted: the listing asks for
//     startKey=<that app>&rows=<page size> instead, drops the startKey's
//     app by key, and pages the rest of the pass by key, which deletions
//     cannot shift. A pass paged by key whose startKey app was itself
//     deleted gets 404: it steps back to an app before it on the last page
//     (up to maxBefore), and once none is left reads the pass again from
//     its start (at most maxPassRestarts times), deduplication dropping
//     what it read before.
//   - No token at all. An organization older than 1.10 ignores pageSize
//     and pageToken and answers at most 1000 apps without a
//     nextPageToken. A full page without a token while totalSize (or, with
//     no totalSize, the full page) says more follow goes on by key.
//
// An app created and another deleted before the index between two pages
// leave totalSize unchanged: that shift is not seen (the token is followed
// and one app may be missed), and CheckTotal cannot see it either.

// maxPassRestarts bounds how often an apps pass is read again from its
// start because every app it could go on from was deleted.
const maxPassRestarts = 3

// keyMark prefixes the startKeys an apps pass paged by key has followed in
// Lister.tokens, beside the page tokens it followed.
const keyMark = "\x00key:"

// appsPageQuery is the query of the apps page at cur with a page size of n:
// pageSize and the token, or rows and startKey for a pass paged by key.
func appsPageQuery(cur Cursor, n int) url.Values {
	q := appsQuery(cur.pass(), n)
	switch {
	case cur.StartKey != "":
		q.Del("pageSize")
		q.Set("rows", strconv.Itoa(n))
		q.Set("startKey", cur.StartKey)
	case cur.PageToken != "":
		q.Set("pageToken", cur.PageToken)
	}
	return q
}

// shifted reports whether the page read at cur, a follow-up page of a pass
// paged by token, reports a lower totalSize than the pass's page before:
// apps went while the export paged and an index token may have shifted
// past one. The page is then dropped and the listing set to go on by key
// from the last app the pass delivered, and a warning counts it.
func (l *Lister) shifted(p *Page, cur Cursor, data *pageData) bool {
	if cur.PageToken == "" || cur.After == "" || cur.Total <= 0 || data.total < 0 || data.total >= cur.Total {
		return false
	}
	l.dropAhead()
	next := passKeyCursor(cur.pass(), cur.After)
	next.Total, next.Read = data.total, cur.Read
	l.cur = next
	p.Warnings = MergeWarnings(p.Warnings, []Warning{{
		Text:  "apps: totalSize fell between two pages of a listing (apps deleted or revoked while the export paged, which shifts the API's index page token): the listing went on by appId from the last app read, so nothing after it is missed",
		Count: 1,
	}})
	return true
}

// appsFallBack handles a page of a pass paged by key that failed with 404
// because its startKey app was deleted after the page before was read: the
// pass goes on from the app before it on that page, or, with none left,
// from the pass's start. It reports whether it moved the cursor.
func (l *Lister) appsFallBack(p *Page, err error) bool {
	if s, ok := httpStatus(err); !ok || s != http.StatusNotFound {
		return false
	}
	if len(l.before) > 0 {
		return l.fallBack(p, err) // keeps the pass's filters and counts
	}
	if l.restarts >= maxPassRestarts {
		return false
	}
	l.dropAhead()
	l.restarts++
	pass := l.cur.pass()
	l.cur = passStart(pass)
	l.tokens = map[string]bool{}
	p.Warnings = MergeWarnings(p.Warnings, []Warning{{
		Text:  "apps: every app a listing could go on from was deleted while the export paged: that status and keyStatus listing was read again from its start (apps read twice are exported once)",
		Count: 1,
	}})
	return true
}

// tokenRefused handles a page asked for with a page token that failed with
// 400. The token is opaque and the reference says nothing of how long it
// lives; one kept in a checkpoint for hours, or one the API no longer
// knows after a restart, may be refused as invalid. The pass goes on by
// key from the last app it delivered (the cursor's After), or, with none
// known, is read again from its start, deduplication dropping what was
// delivered; a warning says so. A 400 for any other reason comes back for
// the request without a token, and then fails the listing; at most
// maxPassRestarts times per pass. It reports whether it moved the cursor.
func (l *Lister) tokenRefused(p *Page, err error) bool {
	if s, ok := httpStatus(err); !ok || s != http.StatusBadRequest || l.restarts >= maxPassRestarts {
		return false
	}
	l.dropAhead()
	l.restarts++
	cur := l.cur
	pass := cur.pass()
	how := "went on by appId from the last app read"
	if cur.After != "" {
		next := passKeyCursor(pass, cur.After)
		next.Total, next.Read = cur.Total, cur.Read
		l.cur = next
	} else {
		l.cur = passStart(pass)
		l.tokens = map[string]bool{}
		how = "read that status and keyStatus listing again from its start (apps read twice are exported once)"
	}
	p.Warnings = MergeWarnings(p.Warnings, []Warning{{
		Text:  "apps: the API refused a page token with 400 (a token kept in a checkpoint may have expired): the listing " + how,
		Count: 1,
	}})
	return true
}

// appsNext sets the cursor after the page read at cur with a page size of
// n, which delivered added apps past its startKey's, and ends the pass or
// the listing where the page says so.
func (l *Lister) appsNext(p *Page, cur Cursor, data *pageData, added, n int, u string, num int) error {
	pass := cur.pass()
	last := ""
	if len(data.records) > 0 {
		last = Apps.Key(data.records[len(data.records)-1])
	}
	read := cur.Read + int64(added)
	total := cur.Total
	if data.total >= 0 {
		total = data.total
	}
	after := cur.After
	if last != "" {
		after = last
	}
	full := len(data.records) >= n && last != ""
	next := data.nextToken
	switch {
	case cur.StartKey == "" && next != "" && (next == cur.PageToken || l.tokens[next]):
		return newError(codes.Internal, nil,
			"listing apps of organization %q: page %d (GET %s) returned nextPageToken %q, which was followed already: the listing does not advance; this is an API fault, please report it",
			l.org, num, u, next)
	case cur.StartKey == "" && next != "":
		l.tokens[next] = true
		c := passCursor(pass, next)
		c.After, c.Total, c.Read = after, total, read
		l.cur = c
	case cur.StartKey == "" && full && (data.total < 0 || read < data.total):
		// A full page without a token where more apps follow: an
		// organization that ignores pageSize and pageToken.
		c := passKeyCursor(pass, last)
		c.Total, c.Read = total, read
		l.cur = c
		p.Warnings = MergeWarnings(p.Warnings, []Warning{{
			Text:  "apps: a full page came without nextPageToken although more apps follow (pageSize and pageToken are supported from Apigee 1.10.0 on): the listing went on by rows and startKey",
			Count: 1,
		}})
	case cur.StartKey != "" && full && last == cur.StartKey:
		return newError(codes.Internal, nil,
			"listing apps of organization %q: page %d (GET %s) is full but ends with its startKey %q: the listing does not advance; this is an API fault, please report it",
			l.org, num, u, cur.StartKey)
	case cur.StartKey != "" && full && l.tokens[keyMark+last]:
		return newError(codes.Internal, nil,
			"listing apps of organization %q: page %d (GET %s) ends with app %q, which a page of the same listing ended with before: the listing does not advance; this is an API fault, please report it",
			l.org, num, u, last)
	case cur.StartKey != "" && full:
		l.tokens[keyMark+last] = true
		c := passKeyCursor(pass, last)
		c.Total, c.Read = total, read
		l.cur = c
	default:
		l.endPass()
		l.cur = Cursor{Done: true}
		if i, ok := l.passAfter(pass); ok {
			l.cur = passStart(i)
		}
		return nil
	}
	l.keepBefore(data.records)
	return nil
}

// endPass forgets what the listing kept for the pass it ends.
func (l *Lister) endPass() {
	l.noGuess = 0
	l.tokens = map[string]bool{}
	l.before = l.before[:0]
	l.restarts = 0
	l.size, l.fits = l.c.pageSize, 0
}
