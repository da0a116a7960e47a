package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/apigee"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/server"
)

// triggerPolicy limits what a caller of 'pubexport serve' may ask the
// server to do on its behalf. Without it a trigger could point the server at
// any URL as "Apigee" (the server would send its own Google credentials
// there, or probe its network) or at any folder of the server's disk as the
// destination. A policy is a list of allowed Apigee base URLs and a list of
// allowed destination prefixes.
type triggerPolicy struct {
	apigeeURLs   []string // exact base URLs, besides the default API
	destinations []string // prefixes: "gs://" (any bucket), "gs://b/p", "file:///dir"
}

// check refuses a request outside the policy with PERMISSION_DENIED naming
// the field and the serve flag that would allow it.
func (p triggerPolicy) check(req *operationspb.ExportRequest) error {
	if u := strings.TrimSuffix(req.GetApigeeUrl(), "/"); u != "" && u != apigee.DefaultBaseURL {
		allowed := false
		for _, a := range p.apigeeURLs {
			allowed = allowed || u == strings.TrimSuffix(a, "/")
		}
		if !allowed {
			var urls []string
			for _, a := range p.apigeeURLs {
				urls = append(urls, apigee.RedactURL(a))
			}
			shown := apigee.RedactURL(u)
			return denied("apigee_url", fmt.Sprintf("this server exports only from %s; start it with --allow-apigee-url %s to allow %q", allowedList(apigee.DefaultBaseURL, urls), shown, shown))
		}
	}
	return p.checkDestination(req.GetDestination())
}

// checkDestination refuses a destination outside the policy.
func (p triggerPolicy) checkDestination(destination string) error {
	dest := normalizeDestination(destination)
	for _, a := range p.destinations {
		if strings.HasSuffix(a, "://") {
			if strings.HasPrefix(dest, a) {
				return nil // a whole scheme: gs:// for any bucket
			}
			continue
		}
		a = normalizeDestination(a)
		if dest == a || strings.HasPrefix(dest, a+"/") {
			return nil
		}
	}
	return denied("destination", fmt.Sprintf("this server writes only under %s; start it with --allow-destination to allow %q", allowedList("", p.destinations), destination))
}

// denied is PERMISSION_DENIED for the request field f (its proto name),
// with a google.rpc.BadRequest detail naming it, as INVALID_ARGUMENT
// answers about a field have, so that a client can point at the field
// either way.
func denied(f, desc string) error {
	st := status.New(codes.PermissionDenied, f+": "+desc)
	if d, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: f, Description: desc}},
	}); err == nil {
		st = d
	}
	return st.Err()
}

// normalizeDestination writes a folder (a plain path or a file:// URL) as
// the clean file:// URL of the folder sink.Open will write to, so that
// prefixes compare like with like and "..", "." or their percent-encodings
// cannot climb out of an allowed folder. Cloud Storage destinations are
// compared as given: object names have no "..", and sink refuses them.
func normalizeDestination(d string) string {
	p := d
	if scheme, _, ok := strings.Cut(d, "://"); ok {
		if scheme != "file" {
			return strings.TrimSuffix(d, "/")
		}
		u, err := url.Parse(d)
		if err != nil {
			return d // sink refuses it too; it will match no prefix
		}
		p = u.Path
	}
	abs, err := filepath.Abs(p) // cleans the path as well
	if err != nil {
		return d
	}
	return strings.TrimSuffix((&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), "/")
}

func allowedList(first string, rest []string) string {
	var all []string
	if first != "" {
		all = append(all, first)
	}
	all = append(all, rest...)
	if len(all) == 0 {
		return "(nothing: no --allow-destination given)"
	}
	return strings.Join(all, ", ")
}

// guarded applies a triggerPolicy to the server's triggers; everything else
// is the wrapped operations'.
type guarded struct {
	server.Operations
	policy triggerPolicy
}

func (g guarded) Start(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	// A malformed request is told so first (INVALID_ARGUMENT), then one
	// outside the policy.
	if _, err := operations.Spec(req); err != nil {
		return nil, err
	}
	if err := g.policy.check(req); err != nil {
		return nil, err
	}
	return g.Operations.Start(ctx, req)
}
