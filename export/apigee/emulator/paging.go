package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
)

// maxPage is Apigee's page cap for developers, apps and API products.
const maxPage = 1000

// standardParams are Google's system parameters, accepted on every method.
var standardParams = map[string]bool{
	"$.xgafv": true, "access_token": true, "alt": true, "callback": true, "fields": true,
	"key": true, "oauth_token": true, "prettyPrint": true, "quotaUser": true,
	"uploadType": true, "upload_protocol": true,
}

// paramSet lists a method's query parameters: true for those the emulator
// implements (or may ignore without changing the answer), false for
// documented filters it does not implement. A client relying on one of those
// gets 501 rather than an unfiltered list that looks right.
type paramSet map[string]bool

// checkParams refuses unknown query parameters with Google's wording: a
// misspelt parameter (pagesize) is an error there, not a silent default.
func checkParams(r *http.Request, known paramSet) error {
	for name := range r.URL.Query() {
		if standardParams[name] {
			continue
		}
		ok, documented := known[name]
		switch {
		case !documented:
			return invalidArgument("Invalid JSON payload received. Unknown name %q: Cannot bind query parameter. Field %q could not be found in request message.", name, name)
		case !ok:
			return unimplemented("the emulator does not implement the %q query parameter", name)
		}
	}
	return nil
}

// boolParam parses an optional boolean query parameter.
func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidArgument("Invalid value at %q (TYPE_BOOL), %q", name, v)
	}
	return b, nil
}

// countParam parses an int64 page size such as count or rows. Absent means
// def; below 1 is refused; above limit is refused when strict (count, whose
// documented limit Apigee enforces) and coerced otherwise (rows, pageSize).
func countParam(q url.Values, name string, def, limit int, strict bool) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, invalidArgument("Invalid value at %q (TYPE_INT64), %q", name, v)
	}
	if n < 1 {
		return 0, invalidArgument("%s must be between 1 and %d, got %d", name, limit, n)
	}
	if n > int64(limit) {
		if strict {
			return 0, invalidArgument("%s must be between 1 and %d, got %d; page with startKey to read more", name, limit, n)
		}
		return limit, nil
	}
	return int(n), nil
}

// keyList is a list paged by count and an inclusive startKey (the key of
// the page's first record) that answers neither a token nor a total, as
// the API's developers and API products lists do.
type keyList struct {
	table    *table
	field    string                 // the response's array: "developer"
	keyField string                 // an item's key without expand: "email"
	missing  func(key string) error // the 404 for a startKey no record has, in the API's words
	keep     func(*record) bool     // the records the list shows; nil: all
	// drop leaves records out of a page after count has been cut (nil:
	// none), so that the page comes back short with more to come.
	drop func(*record) bool
}

// listByKey answers one page of l: count records (at most maxPage, 400
// above, since Apigee enforces it) from the startKey in q, whole with
// expand, else only their keys.
func (h *handler) listByKey(w http.ResponseWriter, r *http.Request, q url.Values, o *orgState, expand bool, l keyList) error {
	count, err := countParam(q, "count", maxPage, maxPage, true)
	if err != nil {
		return err
	}
	if err := h.pause(r.Context()); err != nil {
		return err
	}
	o.mu.RLock()
	from := 0
	if k := q.Get("startKey"); k != "" {
		if from = l.table.pos(k); from < 0 {
			o.mu.RUnlock()
			if h.opts.EmptyForMissingStartKey {
				newPage(l.field).send(w)
				return nil
			}
			return l.missing(k)
		}
	}
	rows, _, _ := l.table.scan(from, count, l.keep)
	p := newPage(l.field)
	for _, rec := range rows {
		if l.drop != nil && l.drop(rec) {
			continue
		}
		if expand {
			p.add(h.future(rec.bytes()))
		} else {
			p.addKey(l.keyField, rec.key)
		}
	}
	o.mu.RUnlock()
	p.send(w)
	return nil
}

// pageToken is what an encoded apps nextPageToken (AppsEncodedIndexTokens,
// AppsStableTokens) holds: the filter it was made
// for, the position to continue from and the token epoch it was minted in
// (see Server.ExpirePageTokens; epoch 0 is left out, so tokens look as they
// always did until tokens are first expired). It is base64 so clients treat
// it as opaque, as they must with the real API.
type pageToken struct {
	status, keyStatus string
	pos               int
	epoch             uint64
}

func (t pageToken) String() string {
	s := "apps:" + t.status + ":" + t.keyStatus + ":" + strconv.Itoa(t.pos)
	if t.epoch > 0 {
		s += ":" + strconv.FormatUint(t.epoch, 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func parsePageToken(s string) (pageToken, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.Split(string(b), ":")
	if err != nil || len(parts) < 4 || len(parts) > 5 || parts[0] != "apps" {
		return pageToken{}, invalidArgument("invalid page token %q", s)
	}
	pos, err := strconv.Atoi(parts[3])
	if err != nil || pos < 0 {
		return pageToken{}, invalidArgument("invalid page token %q", s)
	}
	t := pageToken{status: parts[1], keyStatus: parts[2], pos: pos}
	if len(parts) == 5 {
		if t.epoch, err = strconv.ParseUint(parts[4], 10, 64); err != nil || t.epoch == 0 {
			return pageToken{}, invalidArgument("invalid page token %q", s)
		}
	}
	return t, nil
}

// parseIndexToken reads a plain index token (AppsIndexTokens): the
// decimal index of the page's first app, as nextPageToken wrote it.
func parseIndexToken(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, invalidArgument("invalid page token %q", s)
	}
	return int(n), nil
}

// bufPool recycles page buffers: a page of 1000 apps is about a megabyte.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// page builds a list response by concatenating cached record bytes, which is
// what keeps the emulator cheap per record.
type page struct {
	buf   *[]byte
	items int
}

func newPage(field string) *page {
	p := &page{buf: bufPool.Get().(*[]byte)}
	*p.buf = append((*p.buf)[:0], '{')
	*p.buf = strconv.AppendQuote(*p.buf, field)
	*p.buf = append(*p.buf, ":["...)
	return p
}

func (p *page) sep() {
	if p.items > 0 {
		*p.buf = append(*p.buf, ',')
	}
	p.items++
}

// add appends one rendered record.
func (p *page) add(b []byte) {
	p.sep()
	*p.buf = append(*p.buf, b...)
}

// addKey appends an expand=false item: a wrapper object with only the key,
// the shape Apigee X answers ({"email":"..."}), not Edge's bare strings.
func (p *page) addKey(field, key string) {
	p.sep()
	*p.buf = append(*p.buf, '{')
	*p.buf = appendJSONString(*p.buf, field)
	*p.buf = append(*p.buf, ':')
	*p.buf = appendJSONString(*p.buf, key)
	*p.buf = append(*p.buf, '}')
}

// send finishes the object with the extra top-level fields and writes it. An
// empty list is omitted, as proto3 JSON omits empty repeated fields.
func (p *page) send(w http.ResponseWriter, extra ...string) {
	b := *p.buf
	if p.items == 0 {
		b = b[:1]
	} else {
		b = append(b, ']')
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, extra[i])
		b = append(b, ':')
		b = append(b, extra[i+1]...)
	}
	b = append(b, '}', '\n')
	writeBody(w, http.StatusOK, b)
	*p.buf = b
	if cap(b) <= 4<<20 {
		bufPool.Put(p.buf)
	}
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

func writeBody(w http.ResponseWriter, code int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

// writeJSON answers a small non-proto body (the organization).
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	writeBody(w, code, append(b, '\n'))
}

// writeProto answers one message in protojson, the API's encoding.
func writeProto(w http.ResponseWriter, code int, m proto.Message) error {
	writeBody(w, code, append(render("response", m), '\n'))
	return nil
}

// writeRecord answers one stored record from its cached bytes.
func writeRecord(w http.ResponseWriter, r *record) {
	b := r.bytes()
	out := make([]byte, 0, len(b)+1)
	writeBody(w, http.StatusOK, append(append(out, b...), '\n'))
}

// future is b with the additions of Options.FutureFields, or b.
func (h *handler) future(b []byte) []byte {
	if !h.opts.FutureFields || len(b) < 2 || b[0] != '{' {
		return b
	}
	out := make([]byte, 0, len(b)+64)
	out = append(out, `{"futureField":{"tier":"platinum","since":"2027"}`...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, b[1:]...)
	out = bytes.ReplaceAll(out, []byte(`"quotaCounterScope":"PROXY"`), []byte(`"quotaCounterScope":"API_SOURCE"`))
	return bytes.ReplaceAll(out, []byte(`"operationConfigType":"proxy"`), []byte(`"operationConfigType":"proxy","futureSetting":true`))
}
