package pagejson

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The lexical half of the page decoder: whitespace, strings, numbers,
// literals, and skipping values of unknown fields. It follows RFC 8259 and
// the details of protojson's tokenizer (google.golang.org/protobuf
// internal/encoding/json): the same escapes, the same delimiter rule after
// numbers and literals, invalid UTF-8 rejected in every string.

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// The steps of reading any object or array, shared by decoding
// (decode.go), skipping (below) and peeking (peek.go) so that all three
// accept and refuse exactly the same text. They run for every field and
// element of a page, so they must not add calls to the scan: on valid JSON
// fieldName calls only str (in place of the str and expect calls it
// replaced), errors are built out of line by unexpected, and skipValue,
// which has seen the opening byte, uses closes, which the compiler inlines.
// One call more per element shows in BenchmarkPeekPage.

// open consumes the '{' or '[' (c) that starts an object or array and the
// space after it; what names the value wanted, for the error. empty reports
// that the closing '}' or ']' followed at once (it is consumed too).
func (d *decoder) open(c byte, what string) (empty bool, err error) {
	if d.i >= len(d.s) || d.s[d.i] != c {
		return false, d.unexpected(what)
	}
	d.i++
	closing := byte('}')
	if c == '[' {
		closing = ']'
	}
	return d.closes(closing), nil
}

// closes passes over space after an object's or array's opening byte and
// reports whether closing comes next (consuming it): the container is empty.
func (d *decoder) closes(closing byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == closing {
		d.i++
		return true
	}
	return false
}

// fieldName reads the name of an object's member, the ':' after it and
// the space around it.
func (d *decoder) fieldName() (string, error) {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", d.unexpected("a field name")
	}
	name, err := d.str()
	if err != nil {
		return "", err
	}
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != ':' {
		return "", d.unexpected(`":" after the field name`)
	}
	d.i++
	d.ws()
	return name, nil
}

// next reads what follows a member of an object or array: a ',' and the
// space after it (more: another member follows) or closing, the container's
// last byte. ok is false when it is neither, and the caller reports
// d.unexpected.
func (d *decoder) next(closing byte) (more, ok bool) {
	d.ws()
	if d.i < len(d.s) {
		switch d.s[d.i] {
		case ',':
			d.i++
			d.ws()
			return true, true
		case closing:
			d.i++
			return false, true
		}
	}
	return false, false
}

// unexpected is the error for what stands at d.i where want should.
func (d *decoder) unexpected(want string) *SyntaxError {
	if d.i >= len(d.s) {
		return d.eof()
	}
	return d.errorf(d.i, "want %s, found %s", want, d.tokenAt(d.i))
}

// literal consumes lit (null, true, false) if it is next and ends at a
// delimiter.
func (d *decoder) literal(lit string) bool {
	end := d.i + len(lit)
	if end > len(d.s) || d.s[d.i:end] != lit || (end < len(d.s) && isNotDelim(d.s[end])) {
		return false
	}
	d.i = end
	return true
}

// plainByte marks the bytes a string can hold as they are: not '"', '\\',
// a control character or the start of a multi-byte UTF-8 sequence.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str decodes the string at d.i (which is '"'). Without escapes the result
// is a substring of the page: no copy.
func (d *decoder) str() (string, error) {
	start := d.i + 1
	for j := start; ; {
		for j < len(d.s) && plainByte[d.s[j]] {
			j++
		}
		if j >= len(d.s) {
			return "", d.eof()
		}
		switch c := d.s[j]; {
		case c == '"':
			d.i = j + 1
			return d.s[start:j], nil
		case c == '\\':
			return d.strEscaped(start, j)
		case c < 0x20:
			return "", d.errorf(j, "unescaped control character in a string")
		default:
			r, n := utf8.DecodeRuneInString(d.s[j:])
			if r == utf8.RuneError && n == 1 {
				return "", d.errorf(j, "invalid UTF-8 in a string")
			}
			j += n
		}
	}
}

// strEscaped finishes a string that has escapes; s[start:j] is its plain
// prefix and s[j] the first backslash.
func (d *decoder) strEscaped(start, j int) (string, error) {
	out := make([]byte, 0, j-start+64)
	out = append(out, d.s[start:j]...)
	for {
		if j >= len(d.s) {
			return "", d.eof()
		}
		switch c := d.s[j]; {
		case c == '"':
			d.i = j + 1
			return string(out), nil
		case c == '\\':
			if j+1 >= len(d.s) {
				return "", d.eof()
			}
			switch e := d.s[j+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
				j += 2
			case 'b':
				out = append(out, '\b')
				j += 2
			case 'f':
				out = append(out, '\f')
				j += 2
			case 'n':
				out = append(out, '\n')
				j += 2
			case 'r':
				out = append(out, '\r')
				j += 2
			case 't':
				out = append(out, '\t')
				j += 2
			case 'u':
				r, ok := hex4(d.s, j+2)
				if !ok {
					if j+6 > len(d.s) {
						return "", d.eof()
					}
					return "", d.errorf(j, `invalid \u escape in a string: want 4 hex digits`)
				}
				j += 6
				if utf16.IsSurrogate(r) {
					// A surrogate must be the first half of a pair.
					if j+6 > len(d.s) {
						return "", d.eof()
					}
					r2, ok := hex4(d.s, j+2)
					r = utf16.DecodeRune(r, r2)
					if d.s[j] != '\\' || d.s[j+1] != 'u' || !ok || r == utf8.RuneError {
						return "", d.errorf(j, `invalid \u escape in a string: a surrogate without its pair`)
					}
					j += 6
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", d.errorf(j, `invalid escape in a string: a backslash must be followed by one of " \ / b f n r t u`)
			}
		case c < 0x20:
			return "", d.errorf(j, "unescaped control character in a string")
		case c < utf8.RuneSelf:
			out = append(out, c)
			j++
		default:
			r, n := utf8.DecodeRuneInString(d.s[j:])
			if r == utf8.RuneError && n == 1 {
				return "", d.errorf(j, "invalid UTF-8 in a string")
			}
			out = append(out, d.s[j:j+n]...)
			j += n
		}
	}
}

// hex4 reads the 4 hex digits of a \u escape at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number returns the end of the JSON number at d.s[at:], without consuming.
func (d *decoder) number(at int) (int, error) {
	end, err := scanNumber(d.s, at)
	if err != nil {
		return 0, err
	}
	return end, nil
}

// scanNumber returns the end of the JSON number that starts at s[i], which
// must be followed by the end of s or a delimiter.
func scanNumber(s string, i int) (int, *SyntaxError) {
	j := i
	if j < len(s) && s[j] == '-' {
		j++
	}
	switch {
	case j >= len(s):
		return 0, &SyntaxError{Offset: j, Msg: "unexpected end of JSON in a number"}
	case s[j] == '0':
		j++
	case '1' <= s[j] && s[j] <= '9':
		for j++; j < len(s) && isDigit(s[j]); j++ {
		}
	default:
		return 0, &SyntaxError{Offset: i, Msg: "invalid number"}
	}
	if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
		for j += 2; j < len(s) && isDigit(s[j]); j++ {
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k >= len(s) || !isDigit(s[k]) {
			return 0, &SyntaxError{Offset: i, Msg: "invalid number: exponent without digits", stricter: true}
		}
		for ; k < len(s) && isDigit(s[k]); k++ {
		}
		j = k
	}
	if j < len(s) && isNotDelim(s[j]) {
		return 0, &SyntaxError{Offset: i, Msg: "invalid number: a letter, digit or one of -+._ follows it"}
	}
	return j, nil
}

// parseInt converts a valid JSON number to an integer of bits bits, as
// protojson does: 1.0, 1e3 and -0 are integers; 1.5 and out-of-range
// values are not. Unsigned results come back as their bit pattern.
func parseInt(tok string, bits int, unsigned bool) (int64, bool) {
	// Fast path: plain digits that cannot overflow.
	if len(tok) > 0 && len(tok) <= 18 {
		neg := tok[0] == '-'
		digits := tok
		if neg {
			digits = tok[1:]
		}
		var n int64
		plain := len(digits) > 0
		for i := 0; i < len(digits) && plain; i++ {
			if c := digits[i]; isDigit(c) {
				n = n*10 + int64(c-'0')
			} else {
				plain = false
			}
		}
		if plain {
			if neg {
				n = -n
			}
			switch {
			case unsigned && n < 0:
				return 0, false
			case bits == 32 && unsigned && n > 1<<32-1:
				return 0, false
			case bits == 32 && !unsigned && (n < -1<<31 || n > 1<<31-1):
				return 0, false
			}
			return n, true
		}
	}
	s, ok := normalizeInt(tok)
	if !ok {
		return 0, false
	}
	if unsigned {
		n, err := strconv.ParseUint(s, 10, bits)
		return int64(n), err == nil
	}
	n, err := strconv.ParseInt(s, 10, bits)
	return n, err == nil
}

// normalizeInt rewrites a JSON number as plain integer digits, or says it is
// not an integer (protojson's normalizeToIntString).
func normalizeInt(tok string) (string, bool) {
	neg := false
	if tok != "" && tok[0] == '-' {
		neg, tok = true, tok[1:]
	}
	var intp, frac, exp string
	i := 0
	if i < len(tok) && tok[i] == '0' {
		i++ // a leading 0 contributes no digits
	} else {
		for i < len(tok) && isDigit(tok[i]) {
			i++
		}
		intp = tok[:i]
	}
	if i < len(tok) && tok[i] == '.' {
		j := i + 1
		for j < len(tok) && isDigit(tok[j]) {
			j++
		}
		frac = tok[i+1 : j]
		i = j
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		exp = tok[i+1:]
	}
	if intp == "" && frac == "" {
		return "0", true
	}
	e := 0
	if exp != "" {
		v, err := strconv.ParseInt(exp, 10, 32)
		if err != nil {
			return "", false
		}
		e = int(v)
	}
	var num string
	if e >= 0 {
		if len(frac) > e || len(intp)+e > 20 {
			return "", false
		}
		b := make([]byte, 0, len(intp)+e)
		b = append(b, intp...)
		b = append(b, frac...)
		for range e - len(frac) {
			b = append(b, '0')
		}
		num = string(b)
	} else {
		if len(frac) > 0 {
			return "", false
		}
		idx := len(intp) + e
		if idx < 0 {
			return "", false
		}
		for k := idx; k < len(intp); k++ {
			if intp[k] != '0' {
				return "", false
			}
		}
		num = intp[:idx]
	}
	if neg {
		return "-" + num, true
	}
	return num, true
}

// skip validates and passes over one value of an unknown field. depth counts
// the containers entered, limited like protojson's skipJSONValue.
func (d *decoder) skip(budget int) error { return d.skipValue(0, budget, false) }

// skipValue passes over one value. lax (pass, for Peek) checks the
// structure only and finds each string's end by its closing quote; strict
// (skip) validates strings as well, as the decoder must.
func (d *decoder) skipValue(depth, budget int, lax bool) error {
	if d.i >= len(d.s) {
		return d.eof()
	}
	switch c := d.s[d.i]; {
	case c == '"':
		if lax {
			return d.passString()
		}
		_, err := d.str()
		return err
	case c == '{':
		if depth+1 > budget {
			return d.errorf(d.i, "nested deeper than %d", recursionLimit)
		}
		d.i++
		if d.closes('}') {
			return nil
		}
		for {
			var err error
			if lax {
				err = d.passFieldName()
			} else {
				_, err = d.fieldName()
			}
			if err != nil {
				return err
			}
			if err := d.skipValue(depth+1, budget, lax); err != nil {
				return err
			}
			if more, ok := d.next('}'); !ok {
				return d.unexpected(`"," or "}" after a field`)
			} else if !more {
				return nil
			}
		}
	case c == '[':
		if depth+1 > budget {
			return d.errorf(d.i, "nested deeper than %d", recursionLimit)
		}
		d.i++
		if d.closes(']') {
			return nil
		}
		for {
			if err := d.skipValue(depth+1, budget, lax); err != nil {
				return err
			}
			if more, ok := d.next(']'); !ok {
				return d.unexpected(`"," or "]" in an array`)
			} else if !more {
				return nil
			}
		}
	case c == '-' || isDigit(c):
		end, err := d.number(d.i)
		if err != nil {
			return err
		}
		d.i = end
		return nil
	case d.literal("null"), d.literal("true"), d.literal("false"):
		return nil
	}
	return d.errorf(d.i, "invalid value: found %s", d.tokenAt(d.i))
}

func (d *decoder) errorf(at int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) eof() *SyntaxError {
	return &SyntaxError{Offset: len(d.s), Msg: "unexpected end of JSON"}
}

// tokenAt names what is at s[at:] for an error message, without quoting the
// page: a page can hold consumer secrets, and errors travel into logs,
// operation records and the polling API. JSON punctuation is shown (it is
// syntax, not content); anything else only by its kind.
func (d *decoder) tokenAt(at int) string {
	if at >= len(d.s) {
		return "end of JSON"
	}
	switch c := d.s[at]; {
	case c == '"':
		return "a string"
	case c == '-' || isDigit(c):
		return "a number"
	case c == '{', c == '}', c == '[', c == ']', c == ':', c == ',':
		return "'" + string(rune(c)) + "'"
	case c < 0x20 || c == 0x7f:
		return "a control character"
	case c >= utf8.RuneSelf:
		return "a non-ASCII character"
	case ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '_':
		for _, lit := range [...]string{"null", "true", "false"} {
			if end := at + len(lit); end <= len(d.s) && d.s[at:end] == lit && (end == len(d.s) || !isNotDelim(d.s[end])) {
				return lit
			}
		}
		return "a bare word"
	}
	return "an unexpected character"
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isNotDelim reports whether c may not directly follow a number or literal
// (protojson's rule: letters, digits and -+._ may not).
func isNotDelim(c byte) bool {
	return c == '-' || c == '+' || c == '.' || c == '_' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || isDigit(c)
}
