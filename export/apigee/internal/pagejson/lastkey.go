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

// TailToken returns the token field (the proto name of a string field of
// the page) when it is among the members that end the page after its last
// list or object ({"records":[...],"token":"t","total":3}, as list
// responses are written), reading those members backwards from the page's
// end and nothing before them. ok is false when the token is not among
// them, is null, or they are not plainly what Decode would accept: the
// caller then peeks the whole page.
//
// As with LastKey, the page before those members is not read: a page whose
// only fault is there, or that has the token twice with one copy there,
// gives the token here and is refused by Decode.
//
// A plain token is a substring of s.
func (plan *Plan) TailToken(s, token string) (tok string, ok bool) {
	f := plan.byName[token]
	if f == nil {
		return "", false
	}
	end := lastByte(s, len(s))
	if end < 0 || s[end] != '}' {
		return "", false
	}
	found := false
	for {
		// One member, from its value's last byte back to its name.
		j := lastByte(s, end)
		if j < 0 {
			return "", false
		}
		var val int // where the value starts
		switch c := s[j]; {
		case c == ']' || c == '}':
			return tok, found // the members before are not scalars
		case c == '"':
			if val = stringStart(s, j); val < 0 {
				return "", false
			}
		case isNotDelim(c): // a number or literal
			for val = j; val > 0 && isNotDelim(s[val-1]); val-- {
			}
		default:
			return "", false
		}
		colon := lastByte(s, val)
		if colon < 0 || s[colon] != ':' {
			return "", false
		}
		nameEnd := lastByte(s, colon)
		if nameEnd < 0 || s[nameEnd] != '"' {
			return "", false
		}
		nameStart := stringStart(s, nameEnd)
		if nameStart < 0 {
			return "", false
		}
		d := decoder{s: s, i: nameStart}
		name, err := d.str()
		if err != nil || d.i != nameEnd+1 {
			return "", false
		}
		if plan.byName[name] == f {
			if found {
				return "", false // the decoder refuses duplicate fields
			}
			d.i = val
			if s[val] != '"' {
				return "", false // null, or not a string: the caller peeks
			}
			if tok, err = d.str(); err != nil || d.i != j+1 {
				return "", false
			}
			found = true
		}
		end = lastByte(s, nameStart)
		if end < 0 || s[end] != ',' {
			return tok, found && end >= 0 && s[end] == '{' && lastByte(s, end) < 0
		}
	}
}

// stringStart returns the index of the quote that opens the string whose
// closing quote is at end, -1 if there is none (see recordStart).
func stringStart(s string, end int) int {
	for j := end - 1; j >= 0; j-- {
		if s[j] == '"' && !escaped(s, j) {
			return j
		}
	}
	return -1
}
