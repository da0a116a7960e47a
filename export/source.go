package export

import (
	"context"

	"pubexport/export/apigee"
)

// Source is where an export's records come from: the Apigee management API
// in production, the same client pointed at the emulator in tests and demos.
type Source interface {
	// CheckOrganization fails early, with NOT_FOUND or PERMISSION_DENIED,
	// when the organization cannot be read. A PERMISSION_DENIED that
	// matches apigee.ErrOrganizationUnreadable only says that reading the
	// organization itself was denied: the run lets its first page decide.
	CheckOrganization(ctx context.Context, org string) error
	// Pages lists one resource from a cursor (the zero Cursor is the start).
	Pages(org string, r apigee.Resource, from apigee.Cursor) Pages
}

// Pages yields pages until io.EOF.
type Pages interface {
	Next(ctx context.Context) (*apigee.Page, error)
}

// pageNumberer is a source listing that numbers pages in its messages and
// can be told how many pages came before its cursor (*apigee.Lister), so
// that a resumed export's messages agree on the page they are about.
type pageNumberer interface {
	NumberPagesFrom(n int64)
}

// FromClient makes an Apigee client a Source.
func FromClient(c *apigee.Client) Source { return clientSource{c} }

type clientSource struct{ c *apigee.Client }

func (s clientSource) CheckOrganization(ctx context.Context, org string) error {
	return s.c.CheckOrganization(ctx, org)
}

func (s clientSource) Pages(org string, r apigee.Resource, from apigee.Cursor) Pages {
	return s.c.List(org, r, from)
}
