package server

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Browsers are the reason for this file. A web page on any site can make
// the user's browser send a "simple" request (POST with Content-Type
// text/plain, no preflight) to a server on the user's machine, and with DNS
// rebinding (a name of the attacker's that first resolves to the attacker
// and then to 127.0.0.1) read the answers as same-origin. On the documented
// local default, `serve` on loopback without authentication, that would let
// any page start exports with the operator's credentials. So every REST
// request must be one a page can only send from this server's own origin:
//
//   - Sec-Fetch-Site, when sent, is same-origin or none (typed by the user);
//   - Origin, when sent, is this server's own (scheme://Host);
//   - a body is application/json, which no page can send cross-origin
//     without a CORS preflight, and this server answers none;
//   - without authentication, Host names the address the connection came
//     in on (or a loopback name with its port), which a rebound DNS name
//     does not.
//
// Non-browser clients (the official gRPC and REST clients, curl, the CLI)
// send neither Sec-Fetch-Site nor Origin, and the Host they dial. A page of
// this server's own (the console at /) passes: its requests are
// same-origin.

// checkBrowser refuses a REST request that a page of another origin could
// have sent, or could read the answer of. checkHost is set without
// authentication; allowedHosts are extra Host values it accepts.
func checkBrowser(r *http.Request, checkHost bool, allowedHosts []string) error {
	if checkHost {
		if err := checkLocalHost(r, allowedHosts); err != nil {
			return err
		}
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return status.Errorf(codes.PermissionDenied, "request refused: Sec-Fetch-Site %q says a page of another site sent it; "+
			"this API answers only its own origin and non-browser clients", truncate(site))
	}
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host) {
		return status.Errorf(codes.PermissionDenied, "request refused: Origin %q is not this server's (%s); "+
			"this API answers only its own origin and non-browser clients", truncate(origin), truncate(r.Host))
	}
	return nil
}

// sameOrigin reports whether origin is http(s)://host. The scheme is not
// checked: behind a proxy that terminates TLS, the server sees plain HTTP
// for an https origin.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.User != nil {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// checkLocalHost refuses a Host header that does not name the address the
// connection came in on: what DNS rebinding looks like. It applies to
// connections on loopback addresses, where a browser of this machine is
// the only other party; a server on another address without
// authentication sits behind something that authenticates (Cloud Run IAM,
// a proxy), which a rebound name cannot pass.
func checkLocalHost(r *http.Request, allowed []string) error {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return nil // not served by net/http (a test recorder)
	}
	tcp, ok := local.(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		return nil
	}
	for _, h := range allowed {
		if strings.EqualFold(h, r.Host) {
			return nil
		}
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err == nil && port == strconv.Itoa(tcp.Port) {
		h := strings.TrimSuffix(strings.ToLower(host), ".")
		if h == "localhost" || strings.HasSuffix(h, ".localhost") {
			return nil
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return status.Errorf(codes.PermissionDenied, "request refused: Host %q is not the address this server listens on (%s, or localhost:%d); "+
		"a server without authentication answers only requests for its own address (a DNS name pointing here is how a web page reaches it); "+
		"use %s, or start the server with %s among its allowed hosts",
		truncate(r.Host), tcp.String(), tcp.Port, tcp.String(), truncate(r.Host))
}

// checkJSONBody refuses a body that is not JSON: a page of another origin
// can send text/plain, form or multipart bodies without asking, but not
// application/json.
func checkJSONBody(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	hasBody := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	if ct == "" && !hasBody {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		return nil
	}
	what := "no Content-Type"
	if ct != "" {
		what = "Content-Type " + strconv.Quote(truncate(ct))
	}
	return &httpError{
		status: http.StatusUnsupportedMediaType,
		st:     status.Newf(codes.InvalidArgument, "request body with %s: send it as JSON with \"Content-Type: application/json\"", what),
	}
}
