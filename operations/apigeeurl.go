package operations

import (
	"context"
	"net/url"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/sink"
	"pubexport/operations/operationspb"
)

// apigeeURLs keeps the passwords of Apigee base URLs (basic authentication
// to a proxy or to Apigee Edge: http://user:pass@host) out of operation
// records. A record, like the manifest, sits next to the data where anyone
// who can list the exports reads it, so it keeps the URL as
// url.URL.Redacted shows it; the process that was given the password keeps
// it in memory and puts it back when it opens the API.
type apigeeURLs struct {
	mu   sync.Mutex
	full map[string]string // redacted -> as given
}

// keep remembers u's password and returns u as records may store it.
func (k *apigeeURLs) keep(u string) string {
	r := apigee.RedactURL(u)
	if r == u {
		return u
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.full == nil {
		k.full = map[string]string{}
	}
	k.full[r] = u
	return r
}

// redacted is req as it may be stored.
func (k *apigeeURLs) redacted(req *operationspb.ExportRequest) *operationspb.ExportRequest {
	req = proto.Clone(req).(*operationspb.ExportRequest)
	if u := req.GetApigeeUrl(); u != "" {
		req.ApigeeUrl = k.keep(u)
	}
	return req
}

// restored is req with the password of its apigee_url put back, when this
// process knows it; ok is false when the URL lost a password that this
// process was never given.
func (k *apigeeURLs) restored(req *operationspb.ExportRequest) (_ *operationspb.ExportRequest, ok bool) {
	u := req.GetApigeeUrl()
	k.mu.Lock()
	full, known := k.full[u]
	k.mu.Unlock()
	if known {
		req = proto.Clone(req).(*operationspb.ExportRequest)
		req.ApigeeUrl = full
		return req, true
	}
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return req, true
	}
	pw, set := p.User.Password()
	return req, !set || pw != "xxxxx"
}

// opener wraps an OpenFunc so that it opens the API with the password.
func (k *apigeeURLs) opener(open OpenFunc) OpenFunc {
	return func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
		req, _ = k.restored(req)
		return open(ctx, req)
	}
}

// missingPassword is the error of an export whose apigee_url had a password
// that this process does not know.
func missingPassword(req *operationspb.ExportRequest) error {
	return status.Errorf(codes.FailedPrecondition,
		"apigee_url: the password in %s is not stored with the operation (it would be readable next to the exports); resume it with 'pubexport operations resume', giving the Apigee URL with its password again, or start the export again",
		req.GetApigeeUrl())
}

// KeepApigeeURL gives this manager the password of an Apigee base URL that
// operations it runs name without it (see apigeeURLs): for a process that
// resumes or runs an operation another process recorded.
func (m *Manager) KeepApigeeURL(u string) { m.urls.keep(u) }
