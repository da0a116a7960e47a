package emulator

import "fmt"

// Key classes of an app: which statuses its credentials have. The apps
// list filters on them with keyStatus, which "Defaults to approved"
// (apigee-api.md §7.3): an app matches keyStatus=K when one of its
// credentials has status K, so an app whose keys are all revoked is left
// out of a list that does not ask for revoked keys.
const (
	keyApproved uint8 = 1 << iota // a credential with status approved
	keyRevoked                    // a credential with status revoked
)

// keyClass is the key class of an app with these credential statuses.
func keyClass(statuses []string) uint8 {
	var c uint8
	for _, s := range statuses {
		switch s {
		case "approved":
			c |= keyApproved
		case "revoked":
			c |= keyRevoked
		}
	}
	return c
}

// KeylessMode is where the apps list shows an app with no credentials. The
// reference documents keyStatus as "Key status of the app", defaulting to
// approved, and does not say what an app without keys matches, so the
// emulator can play each plausible reading; clients must cope with all of
// them.
type KeylessMode int

const (
	// KeylessApproved lists a keyless app under keyStatus=approved (and so
	// under the default) only: it has no revoked key, and a plain list
	// shows it. The default.
	KeylessApproved KeylessMode = iota
	// KeylessEvery lists a keyless app under every keyStatus: the filter
	// only removes apps whose keys all have another status.
	KeylessEvery
	// KeylessRevoked lists a keyless app under keyStatus=revoked only: it
	// has no approved key.
	KeylessRevoked
	// KeylessNone lists a keyless app under no keyStatus: it has no key of
	// either status. Only developers.apps.list reaches it then.
	KeylessNone
)

var keylessModeNames = []string{"approved", "every", "revoked", "none"}

func (m KeylessMode) String() string {
	if m >= 0 && int(m) < len(keylessModeNames) {
		return keylessModeNames[m]
	}
	return fmt.Sprintf("KeylessMode(%d)", int(m))
}

// ParseKeylessMode reads a mode by its String name.
func ParseKeylessMode(s string) (KeylessMode, error) {
	for i, n := range keylessModeNames {
		if s == n {
			return KeylessMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown keyless mode %q (want one of %v)", s, keylessModeNames)
}

// matches says whether an app of key class c is listed under keyStatus k
// ("approved" or "revoked").
func (m KeylessMode) matches(c uint8, k string) bool {
	if c == 0 {
		switch m {
		case KeylessEvery:
			return true
		case KeylessRevoked:
			return k == "revoked"
		case KeylessNone:
			return false
		}
		return k == "approved"
	}
	if k == "revoked" {
		return c&keyRevoked != 0
	}
	return c&keyApproved != 0
}

// appCounts counts live apps per status and key class, for totalSize, which
// would otherwise need a scan of every app on every page.
type appCounts map[string]*[4]int

func (a appCounts) add(status string, class uint8, n int) {
	c := a[status]
	if c == nil {
		c = new([4]int)
		a[status] = c
	}
	c[class&3] += n
}

// total is the number of apps with status listed under keyStatus k.
func (a appCounts) total(status, k string, m KeylessMode) int {
	c := a[status]
	if c == nil {
		return 0
	}
	n := 0
	for class := range uint8(4) {
		if m.matches(class, k) {
			n += c[class]
		}
	}
	return n
}

// all is the number of apps, whatever their status and keys.
func (a appCounts) all() int {
	n := 0
	for _, c := range a {
		for _, k := range c {
			n += k
		}
	}
	return n
}
