package apigee

import (
	"net/url"
	"strings"
)

// RedactURL is u as it may be shown or stored: a password in it (basic
// authentication to a proxy or to Apigee Edge, http://user:pass@host) is
// replaced by "xxxxx", as url.URL.Redacted does. A value that does not parse
// keeps nothing between "://" and the last "@" of its host part, so that a
// mistyped URL is not echoed with its password either.
func RedactURL(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, path, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(host, "@"); at >= 0 {
		rest = "xxxxx@" + host[at+1:]
		if path != "" || strings.Contains(u[len(scheme)+3:], "/") {
			rest += "/" + path
		}
		return scheme + "://" + rest
	}
	return u
}
