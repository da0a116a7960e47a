package apigee

// Reading where a page leads without decoding it.
//
// A listing can ask for page N+1 as soon as it knows page N's cursor, and
// that cursor is in a few bytes of the page: the apps list's nextPageToken,
// or the key of the last record of a startKey list. peekPage finds them with
// the decoder's own lexer (so strings, escapes and nulls read exactly as the
// decoder reads them) while passing over the records with the skipping
// scan, which is several times cheaper than decoding them.

// pagePeek is what peekPage read from a list response.
type pagePeek struct {
	keys      []string // key paging: the key of each record, "" where it has none
	nextToken string   // apps: nextPageToken, "" when absent or null
}

// peekPage scans the list response of r in s. With keys it reads the key
// field of every record (developers, apiproducts), else it only looks for
// nextPageToken (apps). ok is false whenever the page is not plainly what the
// decoder would accept, or the key of a record is anything but a string or
// null: the caller then learns the cursor the slow way, by decoding.
//
// Plain strings in the result are substrings of s.
func peekPage(r Resource, s string, keys bool) (p pagePeek, ok bool) {
	plan := pagePlans[r]
	if plan == nil {
		return p, false
	}
	var recs, key *fieldPlan
	for _, f := range plan.order {
		if f.list && f.msg != nil {
			recs = f
		}
	}
	if recs == nil {
		return p, false
	}
	if keys {
		if key = recs.msg.byName[r.keyProtoName()]; key == nil {
			return p, false
		}
	}
	token := plan.byName["next_page_token"] // nil but for apps

	d := decoder{s: s}
	budget := recursionLimit - 1 // as decodeMessage counts the top level
	d.ws()
	if empty, err := d.open('{', ""); err != nil {
		return p, false
	} else if !empty {
		var seen slotSet
		for {
			name, err := d.fieldName()
			if err != nil {
				return p, false
			}
			f := plan.byName[name]
			if f != nil && seen.testAndSet(f.slot) {
				return p, false // the decoder refuses duplicate fields
			}
			switch {
			case f != nil && d.literal("null"):
				// Not set, as for the decoder.
			case f == recs && keys:
				if p.keys, ok = d.peekKeys(key, budget-1); !ok {
					return p, false
				}
			case f != nil && f == token:
				if d.i >= len(d.s) || d.s[d.i] != '"' {
					return p, false
				}
				if p.nextToken, err = d.str(); err != nil {
					return p, false
				}
			default:
				if d.skip(budget) != nil {
					return p, false
				}
			}
			more, valid := d.next('}')
			if !valid {
				return p, false
			}
			if !more {
				break
			}
		}
	}
	d.ws()
	return p, d.i == len(d.s)
}

// peekKeys reads the array of records at d.i and the key field of each,
// passing over everything else.
func (d *decoder) peekKeys(key *fieldPlan, budget int) ([]string, bool) {
	if empty, err := d.open('[', ""); err != nil || empty {
		return nil, err == nil
	}
	var keys []string
	for {
		k, ok := d.peekKey(key, budget)
		if !ok {
			return nil, false
		}
		keys = append(keys, k)
		more, valid := d.next(']')
		if !valid {
			return nil, false
		}
		if !more {
			return keys, true
		}
	}
}

// peekKey reads one record (an object) and returns its key field: "" when
// the field is absent or null. Only the record's own fields are looked at;
// a nested object's "name" is passed over with the rest. The field may come
// under its JSON or its proto name, but only once, as for the decoder.
func (d *decoder) peekKey(key *fieldPlan, budget int) (string, bool) {
	if empty, err := d.open('{', ""); err != nil || empty {
		return "", err == nil
	}
	k, found := "", false
	for {
		name, err := d.fieldName()
		if err != nil {
			return "", false
		}
		switch {
		case name == key.json || name == string(key.fd.Name()):
			if found {
				return "", false
			}
			found = true
			switch {
			case d.literal("null"):
			case d.i < len(d.s) && d.s[d.i] == '"':
				if k, err = d.str(); err != nil {
					return "", false
				}
			default:
				return "", false
			}
		default:
			if d.skip(budget) != nil {
				return "", false
			}
		}
		more, valid := d.next('}')
		if !valid {
			return "", false
		}
		if !more {
			return k, true
		}
	}
}
