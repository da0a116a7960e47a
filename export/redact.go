package export

import (
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// redact clears consumer secrets in place. Secrets are redacted by default
// because an export file is copied, shared and kept far longer than the
// credentials it would otherwise leak; the consumer key stays, so a key can
// still be traced to its app.
func redact(m proto.Message) {
	var creds []*apigeepb.Credential
	switch v := m.(type) {
	case *apigeepb.App:
		creds = v.GetCredentials()
	case *apigeepb.DeveloperApp:
		creds = v.GetCredentials()
	}
	for _, c := range creds {
		c.ConsumerSecret = nil
	}
}
