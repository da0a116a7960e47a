package store

import (
	"regexp"
	"strings"
	"testing"
)

// nameRE is the definition SplitName implements by hand.
var nameRE = regexp.MustCompile(`^organizations/([A-Za-z0-9][A-Za-z0-9-]{0,62})/operations/([A-Za-z0-9][A-Za-z0-9-]{0,63})$`)

func checkSplitName(t *testing.T, name string) {
	t.Helper()
	parent, id, err := SplitName(name)
	m := nameRE.FindStringSubmatch(name)
	if (m == nil) != (err != nil) || (m != nil && (parent != "organizations/"+m[1] || id != m[2])) {
		t.Errorf("SplitName(%q) = %q, %q, %v; the expression says %q", name, parent, id, err, m)
	}
}

func TestSplitNameIsTheExpression(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, name := range []string{
		"organizations/acme/operations/0190c1f4-7a1b-7c3d-8e4f-000000000001",
		"organizations/a/operations/b", "organizations/-a/operations/b", "organizations/a/operations/-b",
		"organizations/a-/operations/b-", "organizations//operations/b", "organizations/a/operations/",
		"organizations/a/operations/b/c", "organizations/a/b/operations/c", "organizations/a/operations/b/operations/c",
		"organizations/" + long(63) + "/operations/" + long(64), "organizations/" + long(64) + "/operations/b",
		"organizations/a/operations/" + long(65), "organizations/a_b/operations/c", "organizations/a/operations/c.d",
		"Organizations/a/operations/b", "organizations/a/operations/b\\n", "organizations/../operations/b", "",
		"organizations/a/operations/\\u00e9", "xorganizations/a/operations/b",
	} {
		checkSplitName(t, name)
	}
}

func FuzzSplitName(f *testing.F) {
	f.Add("organizations/acme/operations/x-1")
	f.Add("organizations/a/operations/b/operations/c")
	f.Fuzz(checkSplitName)
}
