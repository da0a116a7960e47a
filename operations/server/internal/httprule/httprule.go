// Package httprule parses and matches the path templates of google.api.http
// rules (google/api/http.proto):
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
//
// It knows nothing of the messages the variables fill: a match yields the
// variables' field paths and their decoded values, in template order.
package httprule

import (
	"fmt"
	"net/url"
	"strings"
)

// segment is one path segment of a template: a literal, "*" or "**".
type segment struct {
	lit  string // "" for a wildcard
	wild string // "*" or "**"
}

// variable is a template variable: its field path and the segments
// [start, end) it covers.
type variable struct {
	field      string
	start, end int
}

// Template is a parsed path template.
type Template struct {
	raw  string
	segs []segment
	vars []variable
	verb string
}

// Parse parses a path template such as
// "/v1/{name=organizations/*/operations/*}:cancel".
func Parse(tmpl string) (*Template, error) {
	t := &Template{raw: tmpl}
	if !strings.HasPrefix(tmpl, "/") {
		return nil, fmt.Errorf("path template %q does not start with /", tmpl)
	}
	s := tmpl[1:]
	// The verb follows the last ':' that is outside a variable.
	depth, colon := 0, -1
	for i := range len(s) {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ':':
			if depth == 0 {
				colon = i
			}
		}
		if depth < 0 || depth > 1 {
			return nil, fmt.Errorf("path template %q: unbalanced or nested braces", tmpl)
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("path template %q: unbalanced braces", tmpl)
	}
	if colon >= 0 {
		s, t.verb = s[:colon], s[colon+1:]
		if t.verb == "" || strings.ContainsAny(t.verb, "/{}:*") {
			return nil, fmt.Errorf("path template %q: bad verb %q", tmpl, t.verb)
		}
	}
	if s == "" {
		return nil, fmt.Errorf("path template %q has no segments", tmpl)
	}
	for s != "" {
		if s[0] == '{' {
			end := strings.IndexByte(s, '}')
			field, sub, hasSub := strings.Cut(s[1:end], "=")
			if !validFieldPath(field) {
				return nil, fmt.Errorf("path template %q: bad field path %q", tmpl, field)
			}
			if !hasSub {
				sub = "*"
			}
			v := variable{field: field, start: len(t.segs)}
			for _, p := range strings.Split(sub, "/") {
				seg, err := parseSegment(p)
				if err != nil {
					return nil, fmt.Errorf("path template %q: %w", tmpl, err)
				}
				t.segs = append(t.segs, seg)
			}
			v.end = len(t.segs)
			t.vars = append(t.vars, v)
			s = s[end+1:]
		} else {
			p, rest, slash := strings.Cut(s, "/")
			if strings.ContainsAny(p, "{}") {
				return nil, fmt.Errorf("path template %q: a variable must be a whole segment", tmpl)
			}
			seg, err := parseSegment(p)
			if err != nil {
				return nil, fmt.Errorf("path template %q: %w", tmpl, err)
			}
			t.segs = append(t.segs, seg)
			s = rest
			if slash && s == "" {
				return nil, fmt.Errorf("path template %q ends with /", tmpl)
			}
			continue
		}
		if s == "" {
			break
		}
		if s[0] != '/' {
			return nil, fmt.Errorf("path template %q: a variable must be a whole segment", tmpl)
		}
		s = s[1:]
		if s == "" {
			return nil, fmt.Errorf("path template %q ends with /", tmpl)
		}
	}
	for i, seg := range t.segs {
		if seg.wild == "**" && i != len(t.segs)-1 {
			return nil, fmt.Errorf("path template %q: ** must be the last segment", tmpl)
		}
	}
	return t, nil
}

func parseSegment(p string) (segment, error) {
	switch {
	case p == "*" || p == "**":
		return segment{wild: p}, nil
	case p == "" || strings.ContainsAny(p, "*{}=:"):
		return segment{}, fmt.Errorf("bad segment %q", p)
	}
	return segment{lit: p}, nil
}

func validFieldPath(f string) bool {
	for _, id := range strings.Split(f, ".") {
		if id == "" {
			return false
		}
		for i, c := range id {
			if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
				return false
			}
		}
	}
	return true
}

// String returns the template as written.
func (t *Template) String() string { return t.raw }

// Verb returns the template's custom verb ("" for none).
func (t *Template) Verb() string { return t.verb }

// Fields returns the field paths of the template's variables, in order.
func (t *Template) Fields() []string {
	f := make([]string, len(t.vars))
	for i, v := range t.vars {
		f[i] = v.field
	}
	return f
}

// Path is a request path split for matching: its escaped segments and the
// custom verb of its last one.
type Path struct {
	segs []string
	verb string
}

// SplitPath splits an escaped URL path ("/v1/a/b:verb"). The verb is what
// follows the last ':' of the last segment.
func SplitPath(escaped string) Path {
	p := Path{segs: strings.Split(strings.TrimPrefix(escaped, "/"), "/")}
	last := p.segs[len(p.segs)-1]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		p.segs[len(p.segs)-1], p.verb = last[:i], last[i+1:]
	}
	return p
}

// Verb returns the path's custom verb ("" for none).
func (p Path) Verb() string { return p.verb }

// Match reports whether p matches the template's segments (not its verb:
// see MatchVerb) and returns its variables' values, percent-decoded. A
// variable of one segment is decoded whole; one of several keeps "%2F"
// escaped, so that its value's slashes are the path's own.
func (t *Template) Match(p Path) (values []string, ok bool) {
	n := len(t.segs)
	if n > 0 && t.segs[n-1].wild == "**" {
		if len(p.segs) < n-1 {
			return nil, false
		}
	} else if len(p.segs) != n {
		return nil, false
	}
	for i, seg := range t.segs {
		if seg.wild == "**" {
			break
		}
		ps := p.segs[i]
		if ps == "" || (seg.lit != "" && ps != seg.lit) {
			return nil, false
		}
	}
	values = make([]string, len(t.vars))
	for i, v := range t.vars {
		end := v.end
		if end == n && t.segs[n-1].wild == "**" {
			end = len(p.segs)
		}
		parts := p.segs[v.start:end]
		if v.end-v.start == 1 && t.segs[v.start].wild != "**" {
			s, err := url.PathUnescape(parts[0])
			if err != nil {
				return nil, false
			}
			values[i] = s
			continue
		}
		dec := make([]string, len(parts))
		for j, part := range parts {
			s, err := url.PathUnescape(part)
			if err != nil {
				return nil, false
			}
			dec[j] = strings.ReplaceAll(s, "/", "%2F")
		}
		values[i] = strings.Join(dec, "/")
	}
	return values, true
}

// MatchVerb reports whether p's verb is the template's.
func (t *Template) MatchVerb(p Path) bool { return p.verb == t.verb }
