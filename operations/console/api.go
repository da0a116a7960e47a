package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/operations/server"
	"pubexport/operations/store"
)

// get wraps a console endpoint: GET (or HEAD) only, answers never cached.
func get(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !server.AllowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h(w, r)
	})
}

// session is what the page needs to know about its caller.
type session struct {
	// Subject names the caller: "anonymous", "token #N" or an email.
	Subject string `json:"subject"`
	// Organizations the caller may choose from.
	Organizations []string `json:"organizations"`
	// AnyOrganization: the caller is granted every organization and may
	// type one that is not listed.
	AnyOrganization     bool     `json:"anyOrganization"`
	DefaultDestination  string   `json:"defaultDestination,omitempty"`
	AllowedDestinations []string `json:"allowedDestinations"`
	ApigeeURL           string   `json:"apigeeUrl,omitempty"`
}

func (c *Console) session(w http.ResponseWriter, r *http.Request) {
	if _, err := params(r); err != nil {
		server.WriteError(w, err)
		return
	}
	caller := server.CallerFrom(r.Context())
	if caller == nil {
		server.WriteError(w, status.Error(codes.Unauthenticated, "request has no authenticated caller"))
		return
	}
	orgs, all := caller.Organizations()
	if all {
		orgs = slices.Compact(slices.Sorted(slices.Values(slices.Concat(orgs, c.opts.Organizations))))
	}
	writeJSON(w, session{
		Subject:             caller.Subject,
		Organizations:       nonNil(orgs),
		AnyOrganization:     all,
		DefaultDestination:  c.opts.DefaultDestination,
		AllowedDestinations: nonNil(c.opts.AllowedDestinations),
		ApigeeURL:           c.opts.ApigeeURL,
	})
}

// details is an operation's request and times, for the operations page.
type details struct {
	Name           string `json:"name"`
	Resource       string `json:"resource"`
	Format         string `json:"format"`
	Compression    string `json:"compression,omitempty"`
	Destination    string `json:"destination"`
	IncludeSecrets bool   `json:"includeSecrets"`
	MaxObjectSize  int64  `json:"maxObjectSize,omitempty"`
	CreateTime     string `json:"createTime,omitempty"`
	UpdateTime     string `json:"updateTime,omitempty"`
	Attempts       int32  `json:"attempts"`
}

func (c *Console) details(w http.ResponseWriter, r *http.Request) {
	q, err := params(r, "operation")
	if err != nil {
		server.WriteError(w, err)
		return
	}
	name := q.Get("operation")
	if err := authorize(r.Context(), name); err != nil {
		server.WriteError(w, err)
		return
	}
	if c.opts.Records == nil {
		server.WriteError(w, status.Error(codes.Unimplemented, "this server does not show operation requests"))
		return
	}
	rec, _, err := c.opts.Records.Get(r.Context(), name)
	if err != nil {
		if status.Code(err) == codes.NotFound {
			err = notFound(name)
		}
		server.WriteError(w, err)
		return
	}
	req := rec.GetRequest()
	d := details{
		Name: name, Resource: req.GetResource(), Format: req.GetFormat(), Compression: req.GetCompression(),
		Destination: req.GetDestination(), IncludeSecrets: req.GetIncludeSecrets(), MaxObjectSize: req.GetMaxObjectSize(),
		Attempts: rec.GetAttempts(),
	}
	if d.Format == "" {
		d.Format = "json"
	}
	if t := rec.GetCreateTime(); t != nil {
		d.CreateTime = t.AsTime().UTC().Format(time.RFC3339Nano)
	}
	if t := rec.GetUpdateTime(); t != nil {
		d.UpdateTime = t.AsTime().UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, d)
}

// authorize checks an operation name and that the caller may see it. An
// operation of an organization the caller is not granted is "not found",
// as in the API, so that the two cannot be told apart.
func authorize(ctx context.Context, name string) error {
	parent, _, err := store.SplitName(name)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "operation: %q is not an operation name; want organizations/{org}/operations/{id}", truncate(name))
	}
	if !server.CallerFrom(ctx).Covers(strings.TrimPrefix(parent, "organizations/")) {
		return notFound(name)
	}
	return nil
}

func notFound(name string) error {
	return status.Errorf(codes.NotFound, "operation %q not found", truncate(name))
}

// params parses the query string: every parameter in required must be
// there once, and no other may be (a misspelt one must not be ignored).
func params(r *http.Request, required ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "malformed query string: %v", err)
	}
	for k, v := range q {
		if !slices.Contains(required, k) {
			return nil, status.Errorf(codes.InvalidArgument, "unknown query parameter %s: this endpoint takes %s", strconv.Quote(truncate(k)), list(required))
		}
		if len(v) > 1 {
			return nil, status.Errorf(codes.InvalidArgument, "query parameter %s is repeated", k)
		}
	}
	for _, k := range required {
		if q.Get(k) == "" {
			return nil, status.Errorf(codes.InvalidArgument, "%s: missing; this endpoint takes %s", k, list(required))
		}
	}
	return q, nil
}

func list(names []string) string {
	if len(names) == 0 {
		return "no parameters"
	}
	return strings.Join(names, " and ")
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		server.WriteError(w, status.Errorf(codes.Internal, "encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(append(b, '\n'))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// truncate keeps echoed input short in error messages.
func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
