package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// record is one stored resource. Its message is never changed once stored
// (a write stores a new record), which is what lets the rendered bytes be
// cached without invalidation bookkeeping and read without holding a lock.
type record struct {
	key string
	// msg is the message; nil once a prerendered server dropped it to save
	// memory, after which message() decodes json again (only writes and
	// single gets need it).
	msg  proto.Message
	kind kind
	// json is the protojson rendering, made on first use or by Prerender.
	json atomic.Pointer[[]byte]
	// bare is an App without credentials (apps listed without includeCred).
	bare atomic.Pointer[[]byte]
	// Fields that lists filter on, kept out of msg so filtering never
	// decodes: an app's status and developer email, a developer's id, an
	// API product's Space.
	status, ref string
	// keys is an app's key class (see keyClass), for keyStatus.
	keys uint8
	// company marks a company developer (one with companies), which
	// developers.list shows only with includeCompany=true.
	company bool
}

type kind uint8

const (
	developerKind kind = iota
	appKind
	productKind
)

func newDeveloperRecord(d *apigeepb.Developer) *record {
	return &record{key: d.GetEmail(), msg: d, kind: developerKind, ref: d.GetDeveloperId(), company: len(d.GetCompanies()) > 0}
}

func newAppRecord(a *apigeepb.App) *record {
	statuses := make([]string, 0, len(a.GetCredentials()))
	for _, c := range a.GetCredentials() {
		statuses = append(statuses, c.GetStatus())
	}
	return &record{key: a.GetAppId(), msg: a, kind: appKind, status: a.GetStatus(), ref: a.GetDeveloperEmail(), keys: keyClass(statuses)}
}

func newProductRecord(p *apigeepb.ApiProduct) *record {
	return &record{key: p.GetName(), msg: p, kind: productKind, ref: p.GetSpace()}
}

var marshal = protojson.MarshalOptions{}

// render is protojson without the optional spaces protojson sprinkles in
// (randomly per build, to stop byte comparisons): the emulator then answers
// the same bytes from every build, and pages are smaller.
func render(key string, m proto.Message) []byte {
	b, err := marshal.Marshal(m)
	if err != nil {
		// Only invalid UTF-8 in a string field can fail; seeds are
		// decoded and generated as valid UTF-8.
		panic(fmt.Sprintf("emulator: render %s: %v", key, err))
	}
	var c bytes.Buffer
	c.Grow(len(b))
	json.Compact(&c, b)
	return c.Bytes()
}

// bytes returns the record's rendering. Two requests may render the same
// record at once; both results are equal and either may win.
func (r *record) bytes() []byte {
	if b := r.json.Load(); b != nil {
		return *b
	}
	b := render(r.key, r.msg)
	r.json.Store(&b)
	return b
}

// message returns the record's message, decoding the cached bytes when the
// message was dropped. The result must not be modified.
func (r *record) message() proto.Message {
	if r.msg != nil {
		return r.msg
	}
	var m proto.Message
	switch r.kind {
	case developerKind:
		m = &apigeepb.Developer{}
	case appKind:
		m = &apigeepb.App{}
	default:
		m = &apigeepb.ApiProduct{}
	}
	if err := protojson.Unmarshal(*r.json.Load(), m); err != nil {
		panic(fmt.Sprintf("emulator: decode %s: %v", r.key, err))
	}
	return m
}

func (r *record) developer() *apigeepb.Developer { return r.message().(*apigeepb.Developer) }
func (r *record) app() *apigeepb.App             { return r.message().(*apigeepb.App) }

// bareBytes returns an App's protojson without its credentials.
func (r *record) bareBytes() []byte {
	if b := r.bare.Load(); b != nil {
		return *b
	}
	c := proto.CloneOf(r.app())
	c.Credentials = nil
	b := render(r.key, c)
	r.bare.Store(&b)
	return b
}

// prerender renders every record with all cores and drops the messages,
// before the server takes requests. A big generated org then costs no
// rendering during a benchmark and about half the memory.
func (t *table) prerender() {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(t.rows); i += workers {
				if r := t.rows[i]; r != nil {
					r.bytes()
					r.msg = nil
				}
			}
		})
	}
	wg.Wait()
}

// table is one collection in server order. Deleted rows become nil instead of
// being cut out, so that a delete does not cost a copy of a million-row
// slice and positions held in stable page tokens (AppsStableTokens) stay
// valid; index tokens count only live rows, so a delete shifts them.
type table struct {
	rows  []*record
	index map[string]int
	live  int
}

func newTable(n int) *table {
	return &table{rows: make([]*record, 0, n), index: make(map[string]int, n)}
}

func (t *table) add(r *record) error {
	if _, ok := t.index[r.key]; ok {
		return fmt.Errorf("%q appears twice", r.key)
	}
	t.index[r.key] = len(t.rows)
	t.rows = append(t.rows, r)
	t.live++
	return nil
}

// get returns the record with key, or nil.
func (t *table) get(key string) *record {
	if i, ok := t.index[key]; ok {
		return t.rows[i]
	}
	return nil
}

// pos returns the position of key, or -1.
func (t *table) pos(key string) int {
	if i, ok := t.index[key]; ok {
		return i
	}
	return -1
}

// replace stores r in place of the record with the same key.
func (t *table) replace(r *record) {
	t.rows[t.index[r.key]] = r
}

// remove deletes key and returns what it held, or nil.
func (t *table) remove(key string) *record {
	i, ok := t.index[key]
	if !ok {
		return nil
	}
	r := t.rows[i]
	t.rows[i] = nil
	delete(t.index, key)
	t.live--
	return r
}

// scan collects up to n live records that keep accepts, starting at position
// from (inclusive). next is the position after the last one collected; more
// tells whether another accepted record follows, so that a token is handed
// out only when there really is a next page.
func (t *table) scan(from, n int, keep func(*record) bool) (page []*record, next int, more bool) {
	i := max(from, 0)
	for ; i < len(t.rows); i++ {
		r := t.rows[i]
		if r == nil || (keep != nil && !keep(r)) {
			continue
		}
		if len(page) == n {
			return page, i, true
		}
		page = append(page, r)
	}
	return page, i, false
}

// orgState is one organization as the server holds it. One lock covers the
// three tables because deleting a developer also deletes its apps.
type orgState struct {
	name string
	mu   sync.RWMutex
	devs *table
	apps *table
	// appCounts counts live apps per status and key class for totalSize.
	appCounts appCounts
	products  *table
	createdAt int64
	// version counts the changes to the apps (under mu), and idx
	// remembers where index page tokens point while it stays the same
	// (see AppsIndexTokens).
	version uint64
	idx     indexCache
}

func newOrgState(o *Org) (*orgState, error) {
	s := &orgState{
		name:      o.Name,
		devs:      newTable(len(o.Developers)),
		apps:      newTable(len(o.Apps)),
		products:  newTable(len(o.APIProducts)),
		appCounts: appCounts{},
	}
	for i, d := range o.Developers {
		if err := s.devs.add(newDeveloperRecord(d)); err != nil {
			return nil, fmt.Errorf("organization %q developers[%d]: email %w", o.Name, i, err)
		}
		if c := d.GetCreatedAt(); c > 0 && (s.createdAt == 0 || c < s.createdAt) {
			s.createdAt = c
		}
	}
	for i, a := range o.Apps {
		r := newAppRecord(a)
		if err := s.apps.add(r); err != nil {
			return nil, fmt.Errorf("organization %q apps[%d]: appId %w", o.Name, i, err)
		}
		s.appCounts.add(r.status, r.keys, 1)
	}
	for i, p := range o.APIProducts {
		if err := s.products.add(newProductRecord(p)); err != nil {
			return nil, fmt.Errorf("organization %q apiProducts[%d]: name %w", o.Name, i, err)
		}
	}
	return s, nil
}

// removeApp deletes app id; the caller holds s.mu.
func (s *orgState) removeApp(id string) {
	if r := s.apps.remove(id); r != nil {
		s.appCounts.add(r.status, r.keys, -1)
		s.version++
	}
}

// replaceApp stores r in place of the app with the same id; the caller
// holds s.mu.
func (s *orgState) replaceApp(r *record) {
	old := s.apps.get(r.key)
	s.appCounts.add(old.status, old.keys, -1)
	s.apps.replace(r)
	s.appCounts.add(r.status, r.keys, 1)
	s.version++
}
