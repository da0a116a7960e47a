package pagejson

// Reading where a page leads without decoding it.
//
// A listing can ask for page N+1 as soon as it knows page N's cursor, and
// that cursor is in a few bytes of the page: a next-page token, or the key of
// the last record. Peek finds them with the decoder's own lexer (so strings,
// escapes and nulls read exactly as the decoder reads them) while passing
// over the records with the skipping scan, which is several times cheaper
// than decoding them.

// PagePeek is what Peek read from a page.
type PagePeek struct {
	Keys      []string // with a key field: the key of each record, "" where it has none
	NextToken string   // the token field, "" when absent or null
}

// Peek scans the page in s, a message of p's type whose records are its
// repeated message field (the last one, if there are several). With a key
// (the proto name of a string field of the records) it reads the key of
// every record; with a token (the proto name of a string field of the page)
// it reads that field. ok is false whenever the page is not plainly what
// Decode would accept, or the key of a record is anything but a string or
// null: the caller then learns the cursor the slow way, by decoding.
//
// The values it passes over are checked for structure (brackets, commas,
// quotes, numbers, literals, depth) but not for what their strings hold
// (escapes, UTF-8): that is the decoder's work, and doing it twice cost a
// tenth of an apps export's CPU. A page that fails only there still peeks
// ok; the decoder then refuses it, and the Lister drops the request it made
// ahead.
//
// Plain strings in the result are substrings of s.
func (plan *Plan) Peek(s, key, token string) (p PagePeek, ok bool) {
	var recs, keyf *fieldPlan
	for _, f := range plan.order {
		if f.list && f.msg != nil {
			recs = f
		}
	}
	if recs == nil {
		return p, false
	}
	keys := key != ""
	if keys {
		if keyf = recs.msg.byName[key]; keyf == nil {
			return p, false
		}
	}
	var tok *fieldPlan // nil when the page has no such field
	if token != "" {
		tok = plan.byName[token]
	}

	d := decoder{s: s}
	budget := recursionLimit - 1 // as Decode counts the top level
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
				if p.Keys, ok = d.peekKeys(keyf, budget-1); !ok {
					return p, false
				}
			case f != nil && f == tok:
				if d.i >= len(d.s) || d.s[d.i] != '"' {
					return p, false
				}
				if p.NextToken, err = d.str(); err != nil {
					return p, false
				}
			default:
				if d.pass(budget) != nil {
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
			if d.pass(budget) != nil {
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

// pass passes over one value as skip does, but finds the end of each
// string by its closing quote alone (see Peek).
func (d *decoder) pass(budget int) error { return d.skipValue(0, budget, true) }

// passFieldName passes over a field name and its ':' as fieldName does,
// finding the name's end by its closing quote alone.
func (d *decoder) passFieldName() error {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return d.unexpected("a field name")
	}
	if err := d.passString(); err != nil {
		return err
	}
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != ':' {
		return d.unexpected(`":" after the field name`)
	}
	d.i++
	d.ws()
	return nil
}

// passString passes over the string at d.i (which is '"'): up to the first
// quote that no backslash escapes.
func (d *decoder) passString() error {
	s := d.s
	for j := d.i + 1; j < len(s); j++ {
		switch s[j] {
		case '"':
			d.i = j + 1
			return nil
		case '\\':
			j++ // the escaped byte, whatever it is
		}
	}
	return d.eof()
}
