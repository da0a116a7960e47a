package apigee

import (
	"context"
	"runtime"
	"strings"
)

// Asking for the next page early.
//
// Fetching a page and decoding it are serial by nature, but the request for
// page N+1 needs only page N's cursor, which peekPage reads from page N's
// bytes long before page N is decoded and handed on. So a Lister asks for
// the next page as soon as it knows where the listing goes, and its round
// trip overlaps the decoding of the current page and whatever the caller
// does with it. It asks only for the page the listing would ask for next
// anyway, and only when the rules of keyPage and appsPage make that certain
// from the raw page: a page that ends the listing, fails it or leaves its
// cursor where it was is never followed by a request ahead, so the requests
// are exactly those of a listing that waits, in the same order. (A page of
// API products, and an apps page that ends with its nextPageToken, are read
// from their end only, so one that fails before that is followed by a
// request ahead, which goes unused; see keyAhead and appsAhead.)
//
// An apps pass whose page tokens are plainly indices may also have the
// pages after that one asked for by index (see indexahead.go): the
// requests ahead form an ordered queue, the page the listing asks for next
// first, at most the listing's cap on requests in flight long. Each runs
// under the context of the Next call that made it, so cancelling that
// context ends it. A request at the head of the queue that is not for the
// page the listing asks for next is dropped with all those behind it.

// ahead is a request made before Next asked for its page.
type ahead struct {
	cur    Cursor // the page it asks for
	url    string
	number int // the request's number in the listing, for messages
	// guessed says that it was asked for by index before any page named
	// its token (see indexahead.go): its answer is checked before use.
	guessed bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when the request has ended; then:
	body    []byte
	err     error
	ended   bool // the request's context had ended when it returned
}

// stop cancels the request and waits for it to end.
func (a *ahead) stop() {
	a.cancel()
	<-a.done
}

// matches says whether the request is the one the listing makes for the
// page at cur now.
func (l *Lister) matches(a *ahead, cur Cursor) bool {
	return a.cur == cur.request() && a.url == l.pageURL(cur)
}

// requestAhead asks for the page at cur in the background, behind the
// requests already ahead.
func (l *Lister) requestAhead(ctx context.Context, cur Cursor, guessed bool) {
	l.fetched++
	l.started++
	actx, cancel := context.WithCancel(ctx)
	a := &ahead{cur: cur, url: l.pageURL(cur), number: l.fetched, guessed: guessed, cancel: cancel, done: make(chan struct{})}
	l.ahead = append(l.ahead, a)
	hint := l.bodySize
	go func() {
		defer close(a.done)
		a.body, a.err = l.getSized(actx, a.url, hint)
		a.ended = actx.Err() != nil
	}()
	// The new goroutine waits for a processor, and the caller goes on to
	// decode the page (8 ms for 1000 API products): with the other
	// processors busy (the caller's own encoder, or other processes), the
	// request waited for the decoding, a few milliseconds a page on the
	// export's wall time. Yielding once lets it reach the network first.
	runtime.Gosched()
}

// request returns the body of the page at cur, from the request made ahead
// for it if there is one (then guessed says whether it was asked for by
// index, see indexahead.go), and the request's URL and number.
func (l *Lister) request(ctx context.Context, cur Cursor) (body []byte, u string, number int, guessed bool, err error) {
	if len(l.ahead) == 0 || !l.matches(l.ahead[0], cur) {
		l.dropAhead()
		body, u, number, err = l.requestNow(ctx, cur)
		return body, u, number, false, err
	}
	a := l.ahead[0]
	l.ahead[0] = nil
	l.ahead = l.ahead[1:]
	if ctx.Err() == nil {
		select {
		case <-a.done:
		case <-ctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		a.stop()
		return nil, a.url, a.number, false, contextError(err, "GET "+a.url)
	}
	a.cancel()
	switch {
	case a.err != nil && a.ended:
		// The context of the Next call that made the request ended, and
		// this call's has not: ask again, under this one.
		l.started++
		body, err = l.getSized(ctx, a.url, l.bodySize)
		return body, a.url, a.number, false, err
	case a.err != nil && a.guessed:
		// An index the server did not take before it had named it: the
		// guess, not the listing, failed. The pass stops guessing, and the
		// page is asked for as the listing would have asked for it.
		l.stopGuessing(cur.pass())
		l.dropAhead()
		l.started++
		body, err = l.getSized(ctx, a.url, l.bodySize)
		return body, a.url, a.number, false, err
	}
	return a.body, a.url, a.number, a.guessed, a.err
}

// requestNow asks for the page at cur and waits for it.
func (l *Lister) requestNow(ctx context.Context, cur Cursor) (body []byte, u string, number int, err error) {
	u = l.pageURL(cur)
	l.fetched++
	l.started++
	body, err = l.getSized(ctx, u, l.bodySize)
	return body, u, l.fetched, err
}

// dropAhead stops every request made ahead, if any, and waits for them to
// end. Their numbers go to the next requests, as if they had not been
// made.
func (l *Lister) dropAhead() { l.dropAheadFrom(0) }

// dropAheadFrom stops the requests ahead from the i-th in the queue on.
func (l *Lister) dropAheadFrom(i int) {
	if i >= len(l.ahead) {
		return
	}
	drop := l.ahead[i:]
	for _, a := range drop {
		a.cancel()
	}
	for j, a := range drop {
		<-a.done
		drop[j] = nil
	}
	l.fetched -= len(drop)
	l.ahead = l.ahead[:i]
}

// Close stops the request for the next page that Next made ahead, if any,
// and waits for it to end. That request runs under the context passed to
// the Next call that made it, so a caller that cancels that context, or
// calls Next until io.EOF or an error, needs no Close; it is for a caller
// that stops early and keeps its context. Next may be called after Close: it
// asks for the page again.
func (l *Lister) Close() {
	l.dropAhead()
	l.stopReaders()
}

// keyAhead is the cursor that keyPage will set after the page in s, which
// it asked for with startKey and a count of n, when the page's raw text
// makes that certain: the page is full, its last record's key is known and
// is not startKey, and the page brings a record not delivered before.
// Anything else (a short page, but for API products, which Spaces may cut;
// a page that would fail or end the listing; a page peekPage cannot read)
// gets no request ahead.
//
// Where a short page goes on too (API products), how many records the page
// holds does not matter, only its last key: that is read from the page's
// end (lastKey) without passing over the page, the 1.4 ms a page of 1000
// products took between its last byte and the next request. A page whose
// last record is new goes on from it, whatever the records before it: a
// page that fails to decode there or has a list after its records (the
// API's pages have neither) gets a request ahead that Next drops unused, as
// for any page that decodes otherwise than it peeked.
func (l *Lister) keyAhead(s, startKey string, n int) (Cursor, bool) {
	if l.noCount {
		return Cursor{}, false // the page size is the API's: no page is known to be full
	}
	if l.shortMayGoOn() {
		if last, ok := lastKey(l.r, s); ok && last != "" && last != startKey && !l.seen.Has(last) {
			return Cursor{StartKey: strings.Clone(last)}, true
		}
	}
	pk, ok := peekPage(l.r, s, true)
	// A short page ends the list, unless Spaces may have cut it (see
	// Lister.shortMayGoOn).
	if !ok || len(pk.keys) == 0 || (len(pk.keys) < n && !l.shortMayGoOn()) {
		return Cursor{}, false
	}
	last := pk.keys[len(pk.keys)-1]
	if last == "" || last == startKey {
		return Cursor{}, false
	}
	if startKey != "" {
		items := pk.keys
		if items[0] == startKey {
			items = items[1:]
		}
		fresh := false
		for i := len(items) - 1; i >= 0 && !fresh; i-- { // a new record is usually last
			fresh = items[i] == "" || !l.seen.Has(items[i])
		}
		if !fresh {
			return Cursor{}, false
		}
	}
	return Cursor{StartKey: strings.Clone(last)}, true
}

// appsAhead is the cursor of the page that appsPage will ask for after the
// page in s, which it asked for at cur with a page size of n, when the
// raw text makes that certain: the nextPageToken (a pass paged by token),
// the last app's id (a full page of a pass paged by key), or the start of
// the next pass after a short last page. A token or key already followed
// (an error), a full page without a token (which may go on by key, see
// appsNext) and the end of the listing get no request ahead.
func (l *Lister) appsAhead(s string, cur Cursor, n int) (Cursor, bool) {
	pass := cur.pass()
	byKey := cur.StartKey != ""
	if !byKey {
		// The token at the page's end is all a pass paged by token needs:
		// read there (tailToken), it costs no pass over the page (1.5 ms
		// for 1000 apps between the page's last byte and the next request).
		if next, ok := tailToken(s); ok {
			if next == cur.PageToken || l.tokens[next] {
				return Cursor{}, false
			}
			return passCursor(pass, next), true
		}
	}
	pk, ok := peekPage(Apps, s, byKey)
	if !ok {
		return Cursor{}, false
	}
	switch next := pk.nextToken; {
	case !byKey && next != "" && (next == cur.PageToken || l.tokens[next]):
		return Cursor{}, false
	case !byKey && next != "":
		return passCursor(pass, strings.Clone(next)), true
	case !byKey:
		// Without a token a short page ends the pass, and so does a full
		// one that brings the pass to its totalSize (as last seen: the
		// raw text does not say; a page that says otherwise leaves the
		// request ahead unused).
		if pk, ok = peekPage(Apps, s, true); !ok {
			return Cursor{}, false
		}
		total := cur.Total
		if total <= 0 {
			total = l.totals[pass]
		}
		if len(pk.keys) >= n && (total < 0 || cur.Read+int64(len(pk.keys)) < total) {
			return Cursor{}, false
		}
	case len(pk.keys) >= n:
		last := pk.keys[len(pk.keys)-1]
		if last == "" || last == cur.StartKey || l.tokens[keyMark+last] {
			return Cursor{}, false
		}
		return passKeyCursor(pass, strings.Clone(last)), true
	}
	if i, ok := l.passAfter(pass); ok {
		return passStart(i), true
	}
	return Cursor{}, false
}
