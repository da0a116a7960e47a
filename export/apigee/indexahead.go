package apigee

import (
	"context"
	"strconv"
)

// Asking for the pages of an apps pass ahead by index.
//
// The passes read at once (readahead.go) leave the wall time of an apps
// listing at that of its longest pass, and the first (approved apps with an
// approved key) holds most apps: its pages one round trip after another
// are the listing's long pole. The reference documents apps.list pageToken
// as "The starting index record" (apigee-api.md §7.3): when a server's
// tokens are visibly that index, the page at index k+n can be asked for
// before the page at k has come back, and a pass's pages overlap as its
// passes do.
//
// The guard. A pass asks by index only while every page it has read says
// its tokens are plain indices: the pass's first page's nextPageToken is
// the decimal number of apps the page returned, and every later page's the
// decimal of its own token plus the apps it returned. Any page that says
// otherwise (an opaque token, a token that skips or repeats) stops
// requests by index for the rest of that pass; the listing carries on
// exactly as without them. Opaque tokens therefore never lead to a
// request by a made-up index.
//
// The window. After a page at index k that returned m apps with the token
// t = k+m, the listing already asks for the page at t (the request ahead
// of ahead.go); with a cap of W requests in flight (ReadAhead) it also asks
// for the pages at t+n, t+2n, ... (n its page size), W requests ahead in
// all, but none at or past the pass's totalSize as the page gave it. It
// guesses only once every pass's totalSize is known to count that pass's
// own list (see appstotal.go): a totalSize that counts every app of the
// organization does not say where a pass ends, and guesses past its end
// would be requests for nothing. The requests by index share the
// listing's cap on requests in flight and the client's rate limit with
// everything else, and hold at most W raw pages. With W = 1
// (--max-parallel-requests 1) nothing is asked by index and the requests
// are exactly those of a listing without this.
//
// Order. The pages are still taken, decoded, deduplicated and counted one
// after another, in the order of a listing that waits for each, by the
// same code: a request ahead is used only when it is for exactly the page
// the listing asks for next (same token, same page size); any other (a
// page came back short, so the next token is not the one guessed; a pass
// that turned to paging by key; the end of the pass) is cancelled and
// dropped with every request behind it. A request by index is made before
// the server named its token, so its answer is checked before use: a
// failure (a server that takes only tokens it minted answers 400) or a
// page that is not what its index plainly gives (its next token is not its
// index plus its apps, or a last page that is empty, or full without
// ending at its totalSize) stops requests by index for the pass, and the
// page is asked for again as the listing would have asked for it. So the
// output, and its hash, are those of a listing one request at a time.
//
// Why the totalSize check stays sound with pages served out of order.
// appsrepair.go trusts a follow-up page only if its totalSize is not lower
// than that of the page before it in the pass; with requests ahead, the
// page at k+n may have been served before or after the page at k. Apps
// deleted, or revoked, before an index shift the pages after it and lower
// the pass's totalSize by the same count, and apps are only ever taken out
// of a listing's reach that way; so between two pages of a pass:
//   - the same totalSize: no app left the pass between their serving, in
//     whichever order they were served. Both saw one list, the second
//     starting where the first ended: nothing lost, nothing twice;
//   - a lower totalSize on the later page: it was served after apps left,
//     and its index may have shifted past apps never delivered. The
//     listing drops it and every request ahead after it, and goes on by
//     appId from the last app of the page before it, by key, which
//     nothing shifts: it reads whatever follows that app now;
//   - a higher totalSize on the later page: it was served before apps
//     left (or apps joined; joining before an index repeats an app rather
//     than skipping one). The page before it then started later than the
//     list it was cut from, so the two overlap: deduplication drops the
//     apps read twice, and the listing takes the higher total as the
//     pass's, so the first page served after the change (lower again)
//     makes it go on by key as above.
// Pages 0..j that share one totalSize were therefore cut from one list,
// and the first page whose totalSize falls below its predecessor's starts
// the repair from the last app of the page before it. The blind spot is
// that of a listing one request at a time: an app created and another
// deleted before an index between two pages leave totalSize unchanged.

// window is how many requests the listing may have ahead: its cap on
// requests in flight (ReadAhead), or one without a cap.
func (l *Lister) window() int {
	if l.sem == nil {
		return 1
	}
	return cap(l.sem)
}

// stopGuessing stops requests by index for apps pass pass until it ends.
func (l *Lister) stopGuessing(pass int) { l.noGuess |= 1 << pass }

// indexOf reads a page token that is plainly an index: the decimal form of
// a number, as strconv writes it; "" is the start of the pass, index 0.
func indexOf(token string) (int64, bool) {
	if token == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(token, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != token {
		return 0, false
	}
	return n, true
}

// indexAnswers says whether data, the page of an apps pass asked for by
// index at cur with a page size of n, is what that index plainly gives:
// apps and a next token that is the index plus their number, or a last
// page (no token) that is short but not empty, or ends at the pass's
// totalSize. An empty page without a token is what a server may answer
// to an index it does not know; taken as the end, it would cut the pass.
func indexAnswers(cur Cursor, data *pageData, n int) bool {
	k, ok := indexOf(cur.PageToken)
	if !ok {
		return false
	}
	m := int64(len(data.records))
	if data.nextToken == "" {
		return (m > 0 && m < int64(n)) || (data.total >= 0 && k+m == data.total)
	}
	t, ok := indexOf(data.nextToken)
	return ok && m > 0 && t == k+m
}

// guessAhead, after the page at cur of an apps pass was decoded into data,
// checks that the pass's tokens are still plainly indices and, while they
// are, fills the window of requests ahead with the pages after the next
// one by index (see above).
func (l *Lister) guessAhead(ctx context.Context, cur Cursor, data *pageData) {
	pass := cur.pass()
	if l.noAhead || l.window() < 2 || cur.StartKey != "" || data.nextToken == "" || l.noGuess&(1<<pass) != 0 {
		return
	}
	k, ok := indexOf(cur.PageToken)
	t, tok := indexOf(data.nextToken)
	if !ok || !tok || t != k+int64(len(data.records)) || len(data.records) == 0 {
		l.stopGuessing(pass)
		l.dropAheadFrom(1) // the request for the next page is the listing's own
		return
	}
	next := passCursor(pass, data.nextToken)
	switch {
	case len(l.ahead) == 0 || !l.matches(l.ahead[0], next):
		return // no request for the next page: a reader has it
	case l.totalsAll != totalsPerPass || data.total < 0 || (cur.Total > 0 && data.total < cur.Total):
		return // no pass's total to stop at, or a page that shifted (see shifted)
	}
	n := int64(l.size)
	for i := 1; i < l.window(); i++ {
		at := t + int64(i)*n
		if at >= data.total {
			l.dropAheadFrom(i)
			return
		}
		c := passCursor(pass, strconv.FormatInt(at, 10))
		if i < len(l.ahead) {
			if l.matches(l.ahead[i], c) {
				continue
			}
			l.dropAheadFrom(i)
		}
		l.requestAhead(ctx, c, true)
	}
}
