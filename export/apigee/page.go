package apigee

import (
	"fmt"
	"maps"
	"strings"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/internal/pagejson"
)

// pagePlans are the field tables of the three list responses, built once:
// they are immutable after package initialisation.
var pagePlans = func() map[Resource]*pagejson.Plan {
	plans := make(map[Resource]*pagejson.Plan, 3)
	for _, r := range Resources() {
		m, _ := r.page()
		p, err := pagejson.Compile(m.ProtoReflect().Descriptor())
		if err != nil {
			panic(fmt.Sprintf("apigee: compiling the %s page decoder: %v", r, err))
		}
		plans[r] = p
	}
	return plans
}()

// pageData is one decoded list response.
type pageData struct {
	records   []proto.Message
	nextToken string // apps only
	total     int64  // apps only; -1 when the page does not say
	unknown   pagejson.Unknown
	// unknownBy is the part of unknown inside each record that has any,
	// by the record's index.
	unknownBy map[int]pagejson.Unknown
}

// unknownOf is what the decoder ignored on the page that counts for the
// records delivered of it: each kind once per delivered record that had
// it, and what lay outside the records. A record the listing dropped (key
// paging's repeat of the page before's last, an app an earlier pass
// listed, a duplicate) was counted when it was delivered, so an unknown
// field says in how many records it was, not how often the API sent it.
func (d *pageData) unknownOf(delivered []proto.Message) pagejson.Unknown {
	if len(d.unknown) == 0 {
		return nil
	}
	u := maps.Clone(d.unknown)
	for _, r := range d.unknownBy {
		for k, n := range r {
			if u[k] -= n; u[k] <= 0 {
				delete(u, k)
			}
		}
	}
	if len(d.unknownBy) > 0 {
		kept := make(map[proto.Message]bool, len(delivered))
		for _, m := range delivered {
			kept[m] = true
		}
		for i, r := range d.unknownBy {
			if i < len(d.records) && kept[d.records[i]] {
				for k := range r {
					u[k]++
				}
			}
		}
	}
	return u
}

// decodePage decodes one list response of r. The body is copied once into a
// string that the records' strings point into (see package pagejson).
func decodePage(r Resource, body []byte) (*pageData, error) {
	return decodeText(r, string(body))
}

// decodeText decodes the list response of r in s; the records' strings
// point into s.
func decodeText(r Resource, s string) (*pageData, error) {
	m, take := r.page()
	unknown, byRecord, err := pagePlans[r].DecodeUnknown(s, m.ProtoReflect())
	if err != nil {
		return nil, err
	}
	p := &pageData{records: take(m), total: -1, unknown: unknown, unknownBy: byRecord}
	if a, ok := m.(*apigeepb.ListAppsResponse); ok {
		// A copy, not a slice of s: the listing keeps every token it
		// followed (to catch a server that loops), and a token pointing
		// into s would keep the whole page alive with it: ~0.9 MB per
		// 1000 apps, 87 MiB held at 100k apps.
		p.nextToken = strings.Clone(a.GetNextPageToken())
		if a.TotalSize != nil {
			p.total = int64(a.GetTotalSize())
		}
	}
	return p, nil
}

// pagePeek is what peekPage read from a list response.
type pagePeek struct {
	keys      []string // key paging: the key of each record, "" where it has none
	nextToken string   // apps: nextPageToken, "" when absent or null
}

// peekPage reads where the list response of r in s leads without decoding
// it (see pagejson.Plan.Peek): with keys the key field of every record
// (developers, apiproducts), else only nextPageToken (apps). ok is false
// whenever the page is not plainly what the decoder would accept: the
// caller then learns the cursor the slow way, by decoding.
//
// Plain keys in the result are substrings of s; nextToken is a copy,
// because callers keep tokens (to refuse one followed twice) long after
// the page: a token that pointed into its page kept the whole page alive
// (a million apps read ahead held 220 MiB of pages that way).
func peekPage(r Resource, s string, keys bool) (pagePeek, bool) {
	plan := pagePlans[r]
	if plan == nil {
		return pagePeek{}, false
	}
	key := ""
	if keys {
		key = r.keyProtoName()
	}
	pk, ok := plan.Peek(s, key, "next_page_token") // a field of apps pages only
	return pagePeek{keys: pk.Keys, nextToken: strings.Clone(pk.NextToken)}, ok
}

// lastKey reads the key of the last record of the list response of r in s
// from the page's end (see pagejson.Plan.LastKey): ok is false when the
// page is not plainly a list of records that ends the page. The key is
// a substring of s.
func lastKey(r Resource, s string) (string, bool) {
	plan := pagePlans[r]
	if plan == nil {
		return "", false
	}
	return plan.LastKey(s, r.keyProtoName())
}

// tailToken reads the nextPageToken of an apps page from the members that
// end it (see pagejson.Plan.TailToken): ok is false when it is not there,
// is null or empty, or cannot be read plainly. The token is a copy, as
// peekPage's is.
func tailToken(s string) (string, bool) {
	tok, ok := pagePlans[Apps].TailToken(s, "next_page_token")
	if !ok || tok == "" {
		return "", false
	}
	return strings.Clone(tok), true
}
