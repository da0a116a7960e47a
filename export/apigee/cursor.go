package apigee

// Cursor is where a listing stands. It is plain JSON because checkpoints keep
// it; the zero value is the start of the list. A Cursor names the last record
// delivered (key paging) or the page token to ask for next (apps), never an
// offset, so that records created or deleted while an export runs do not shift
// what a resumed listing returns.
type Cursor struct {
	// Status is the apps pass: "" (or "approved") lists approved apps, then
	// "revoked" lists revoked ones. The apps list filters on status and
	// defaults to approved, so a single pass would lose the revoked apps.
	Status string `json:"status,omitempty"`
	// StartKey is the key of the last record delivered (developers,
	// apiproducts). Apigee's startKey is inclusive: the next page starts
	// with this record again, and the lister drops it by key.
	StartKey string `json:"startKey,omitempty"`
	// PageToken is the nextPageToken the apps list returned last.
	PageToken string `json:"pageToken,omitempty"`
	// Done marks a finished listing: Next returns io.EOF at once.
	Done bool `json:"done,omitempty"`
}

// The apps status passes, in the order they are listed.
const (
	statusApproved = "approved"
	statusRevoked  = "revoked"
)

// pass is the apps status this cursor lists.
func (c Cursor) pass() string {
	if c.Status == statusRevoked {
		return statusRevoked
	}
	return statusApproved
}
