package operations

import (
	"context"
	"slices"

	"pubexport/export"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/sink"
	"pubexport/operations/operationspb"
)

// downloads are the signed download URLs of a finished export's objects,
// or why there are none.
type downloads struct {
	urls    map[string]string // by object name, manifest included
	warning string            // for the metadata when signing failed
	// warnings are the other steps after the export that did not work
	// out (the latest-export pointer), for the metadata.
	warnings []string
}

// sign asks a destination that can sign (a Cloud Storage bucket) for a
// download URL of every object of res and of its manifest. It must run
// before the bucket is closed. Signing is a convenience, not part of the
// export: when the credentials cannot sign, the export still succeeds, with
// no URL at all (never some objects with one and some without) and a
// warning saying why. An export that includes consumer secrets is never
// signed: a URL that anyone who can read the operation may use for a week
// would carry the secrets further than the bucket's own permissions do.
func (m *Manager) sign(ctx context.Context, b sink.Bucket, res *export.Result, operation string) downloads {
	s, ok := b.(sink.Signer)
	if !ok || m.signExpiry < 0 {
		return downloads{}
	}
	if res.SecretsIncluded {
		return downloads{warning: "download URLs not signed: the export includes consumer secrets; read the objects with the bucket's own permissions"}
	}
	d := downloads{urls: map[string]string{}}
	for _, o := range slices.Concat(res.Objects, []export.Object{res.Manifest}) {
		if o.Name == "" {
			continue
		}
		u, err := s.SignURL(ctx, o.Name, m.signExpiry)
		if err != nil {
			m.log.Info("download URLs not signed", "operation", operation, "error", err)
			return downloads{warning: "download URLs not signed: " + err.Error()}
		}
		d.urls[o.Name] = u
	}
	return d
}

// apply fills the response's download URLs and adds the warning, if any,
// to the metadata (after its final progress, which resets the warnings).
func (d downloads) apply(resp *operationspb.ExportResponse, md *apigeepb.OperationMetadata) {
	for _, o := range slices.Concat(resp.GetObjects(), []*operationspb.ExportObject{resp.GetManifest()}) {
		if o != nil {
			o.DownloadUrl = d.urls[o.GetName()]
		}
	}
	if d.warning != "" {
		md.Warnings = append(md.Warnings, d.warning)
	}
	md.Warnings = append(md.Warnings, d.warnings...)
}
