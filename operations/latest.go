package operations

import (
	"context"
	"strings"

	"google.golang.org/protobuf/proto"

	"pubexport/export"
	"pubexport/export/layout"
	"pubexport/export/sink"
	"pubexport/operations/operationspb"
)

// pointLatest moves the latest-export pointer of the operation's
// organization and resource, under the root of its destination, to the
// export res, unless a newer export already holds it. b is the open
// destination, which is the root when the destination has no placeholders.
// A pointer that cannot be written leaves the export done, with a warning:
// the data and the manifest are there.
func (m *Manager) pointLatest(ctx context.Context, req *operationspb.ExportRequest, spec export.Spec, b sink.Bucket, res *export.Result, name string) (warning string) {
	root := b
	if rootURI := layout.Root(req.GetDestination()); strings.TrimSuffix(rootURI, "/") != strings.TrimSuffix(spec.Destination, "/") {
		r := proto.Clone(req).(*operationspb.ExportRequest)
		r.Destination = rootURI
		_, rb, err := m.open(ctx, r)
		if err != nil {
			m.log.Warn("could not update the latest-export pointer", "operation", name, "error", err)
			return "latest-export pointer not updated: " + err.Error()
		}
		defer rb.Close()
		root = rb
	}
	moved, err := export.WriteLatest(ctx, root, export.NewLatest(spec, res, name))
	if err != nil {
		m.log.Warn("could not update the latest-export pointer", "operation", name, "error", err)
		return "latest-export pointer not updated: " + err.Error()
	}
	if !moved {
		m.log.Info("latest-export pointer left to a newer export", "operation", name, "pointer", root.URI(export.LatestName(spec.Org, string(spec.Resource))))
	}
	return ""
}
