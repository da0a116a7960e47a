package apigee

// Cursor is where a listing stands. It is plain JSON because checkpoints keep
// it; the zero value is the start of the list. A Cursor names the last record
// delivered (key paging) or the page token to ask for next (apps). The apps
// token is documented as an index ("The starting index record"), which apps
// deleted or revoked before it shift, so an apps cursor also names the last
// app its pass delivered and the pass's totalSize as last seen: a page whose
// totalSize is lower makes the listing go on by key from that app instead
// (see appsrepair.go), resumed or not.
type Cursor struct {
	// Status and KeyStatus name the apps pass (see appsPasses): "" stands
	// for "approved", the API's default for both.
	Status    string `json:"status,omitempty"`
	KeyStatus string `json:"keyStatus,omitempty"`
	// StartKey is the key of the last record delivered (developers,
	// apiproducts, and apps passes paged by key). Apigee's startKey is
	// inclusive: the next page starts with this record again, and the
	// lister drops it by key.
	StartKey string `json:"startKey,omitempty"`
	// PageToken is the nextPageToken the apps list returned last.
	PageToken string `json:"pageToken,omitempty"`
	// After is the appId of the last app the apps pass delivered, where
	// the pass goes on by key if PageToken cannot be trusted; Total is the
	// pass's totalSize as last seen (0: not known) and Read the apps the
	// pass has delivered. Checkpoints older than these fields resume
	// without them, as before: trusting the token.
	After string `json:"after,omitempty"`
	Total int64  `json:"total,omitempty"`
	Read  int64  `json:"read,omitempty"`
	// Changed, Again and Rechecked carry an apps listing's check of the
	// passes whose totalSize changed while it ran (see appsrecheck.go):
	// a totalSize was seen to change, the passes (bit i for pass i) read
	// again after the last, and that the listing is in that round.
	Changed   bool `json:"changed,omitempty"`
	Again     int  `json:"again,omitempty"`
	Rechecked bool `json:"rechecked,omitempty"`
	// Done marks a finished listing: Next returns io.EOF at once.
	Done bool `json:"done,omitempty"`
}

// An apps pass is one listing of organizations.apps.list with one status
// and one keyStatus. Both filters default to approved (apigee-api.md §7.3
// and pitfall 10), so a single listing loses revoked apps and apps whose
// keys are all revoked: every combination is listed, in this order. An app
// with approved and revoked keys is in two passes, and the API does not say
// which passes list an app without keys; the key set keeps the first
// listing of each app and counts the later ones as overlaps (see
// Lister.addApps), so the passes together give every app once.
type appsPass struct{ status, keyStatus string }

const (
	statusApproved = "approved"
	statusRevoked  = "revoked"
)

var appsPasses = [...]appsPass{
	{statusApproved, statusApproved},
	{statusApproved, statusRevoked},
	{statusRevoked, statusApproved},
	{statusRevoked, statusRevoked},
}

// request is the part of c that says which page to ask for: two cursors
// with equal requests ask for the same page, whatever else they remember.
func (c Cursor) request() Cursor {
	return Cursor{Status: c.Status, KeyStatus: c.KeyStatus, StartKey: c.StartKey, PageToken: c.PageToken, Done: c.Done}
}

// pass is the index in appsPasses of the apps pass this cursor lists.
func (c Cursor) pass() int {
	i := 0
	if c.Status == statusRevoked {
		i += 2
	}
	if c.KeyStatus == statusRevoked {
		i++
	}
	return i
}

// passStart is the cursor at the start of apps pass i.
func passStart(i int) Cursor { return passCursor(i, "") }

// passCursor is the cursor of apps pass i at token.
func passCursor(i int, token string) Cursor {
	c := Cursor{PageToken: token}
	if i > 0 { // the zero Cursor is the first pass
		c.Status, c.KeyStatus = appsPasses[i].status, appsPasses[i].keyStatus
	}
	return c
}

// passKeyCursor is the cursor of apps pass i paged by key from the app
// with id key (inclusive).
func passKeyCursor(i int, key string) Cursor {
	c := passCursor(i, "")
	c.StartKey = key
	return c
}
