package pagejson

// Reading the last record's key from the page's end.
//
// Where a listing's next request needs only the key of the page's last
// record (and not how many records the page holds), Peek's pass over the
// whole page is more than it needs: 1.4 ms for a page of 1000 API products
// (880 KB), between the page's last byte and the next request. LastKey
// finds the last record by reading the page backwards from its end, over
// that record alone, and reads its key with Peek's own steps.

// LastKey returns the key field (the proto name of a string field of the
// records) of the last record of the page in s, a message of p's type
// whose records are its repeated message field (the last one, if there are
// several), reading only the page's first bytes and its last record.
//
// It reads pages whose records are both the first and the last member of
// the page ({"records":[..., {...}]}, as list responses are written); ok is
// false for any other shape, for an empty list, and wherever the last
// record is not plainly what Decode would accept or its key is anything but
// a string or null (then k is "" with ok true). The records before the
// last are not read: on a page whose only fault is among them, LastKey is
// ok and Decode refuses the page; on a page that has other members after
// its records (one that is a list of objects), the last element of that
// list is taken for the last record. Either way a caller that asks ahead on
// LastKey's word learns from the decoded page that it asked wrongly.
//
// A plain key is a substring of s.
func (plan *Plan) LastKey(s, key string) (k string, ok bool) {
	var recs *fieldPlan
	for _, f := range plan.order {
		if f.list && f.msg != nil {
			recs = f
		}
	}
	if recs == nil {
		return "", false
	}
	keyf := recs.msg.byName[key]
	if keyf == nil {
		return "", false
	}

	// The page starts with its records: {"records":[
	d := decoder{s: s}
	d.ws()
	if empty, err := d.open('{', ""); err != nil || empty {
		return "", false
	}
	if name, err := d.fieldName(); err != nil || plan.byName[name] != recs {
		return "", false
	}
	list := d.i
	if empty, err := d.open('[', ""); err != nil || empty {
		return "", false
	}
	head := d.i

	// ... and ends with them: }]} closes the last record, the list and
	// the page.
	end := len(s)
	for _, c := range []byte("}]}") {
		if end = lastByte(s, end); end < head || s[end] != c {
			return "", false
		}
	}
	start, ok := recordStart(s, head, end)
	if !ok {
		return "", false
	}
	// The record follows the list's '[' or a ','.
	if b := lastByte(s, start); b != list && (b < head || s[b] != ',') {
		return "", false
	}
	d.i = start
	k, ok = d.peekKey(keyf, recursionLimit-2) // as Peek counts a record's depth
	if !ok || d.i != end+1 {
		return "", false
	}
	return k, true
}

// lastByte returns the index of the last byte before end that is not JSON
// whitespace, -1 if there is none.
func lastByte(s string, end int) int {
	for end--; end >= 0; end-- {
		switch s[end] {
		case ' ', '\t', '\n', '\r':
		default:
			return end
		}
	}
	return -1
}

// recordStart returns the index of the '{' that opens the object whose
// closing '}' is at end, reading backwards and no further back than from.
// Outside strings, valid JSON has no quotes, so a quote met going
// backwards closes a string, which the previous quote not escaped by a
// backslash opens (a quote after an odd run of backslashes is escaped).
// On text that is not valid JSON it may find any '{' or none; the caller
// reads the object forwards from it to be sure.
func recordStart(s string, from, end int) (int, bool) {
	depth := 0
	for j := end; j >= from; j-- {
		switch s[j] {
		case '}', ']':
			depth++
		case '{', '[':
			depth--
			if depth == 0 {
				return j, s[j] == '{'
			}
		case '"':
			for j--; j >= from && (s[j] != '"' || escaped(s, j)); j-- {
			}
		}
	}
	return 0, false
}

// escaped reports whether the quote at j follows an odd run of
// backslashes.
func escaped(s string, j int) bool {
	n := 0
	for j--; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}
