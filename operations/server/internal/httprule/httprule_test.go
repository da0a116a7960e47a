package httprule

import (
	"slices"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		tmpl, path string
		ok, verbOK bool
		values     []string
	}{
		{"/v1/{name=organizations/*/operations/*}", "/v1/organizations/acme/operations/x1", true, true, []string{"organizations/acme/operations/x1"}},
		{"/v1/{name=organizations/*/operations/*}", "/v1/organizations/acme/operations/x1:cancel", true, false, []string{"organizations/acme/operations/x1"}},
		{"/v1/{name=organizations/*/operations/*}:cancel", "/v1/organizations/acme/operations/x1:cancel", true, true, []string{"organizations/acme/operations/x1"}},
		{"/v1/{name=organizations/*/operations/*}", "/v1/organizations/acme/operations", false, false, nil},
		{"/v1/{name=organizations/*/operations/*}", "/v1/projects/acme/operations/x", false, false, nil},
		{"/v1/{name=organizations/*/operations/*}", "/v1/organizations//operations/x", false, false, nil},
		{"/v1/{name=organizations/*/operations}", "/v1/organizations/ac%2Fme/operations", true, true, []string{"organizations/ac%2Fme/operations"}},
		{"/v1/{parent=organizations/*}/{resource}:export", "/v1/organizations/acme%20corp/apps:export", true, true, []string{"organizations/acme corp", "apps"}},
		{"/v1/{parent=organizations/*}/{resource}:export", "/v1/organizations/acme/a%2Fb:export", true, true, []string{"organizations/acme", "a/b"}},
		{"/v1/{name=files/**}", "/v1/files/a/b/c", true, true, []string{"files/a/b/c"}},
		{"/v1/{name=files/**}", "/v1/files", true, true, []string{"files"}},
		{"/v1/{a}/x/{b=*}", "/v1/1/x/2", true, true, []string{"1", "2"}},
		{"/v1/{a}/x/{b=*}", "/v1/1/y/2", false, false, nil},
		{"/v1/{a}", "/v1/%zz", false, false, nil},
	} {
		tmpl, err := Parse(tc.tmpl)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.tmpl, err)
		}
		p := SplitPath(tc.path)
		values, ok := tmpl.Match(p)
		if ok != tc.ok || !slices.Equal(values, tc.values) {
			t.Errorf("%s on %s: %q, %v; want %q, %v", tc.tmpl, tc.path, values, ok, tc.values, tc.ok)
		}
		if ok && tmpl.MatchVerb(p) != tc.verbOK {
			t.Errorf("%s on %s: verb match %v, want %v", tc.tmpl, tc.path, !tc.verbOK, tc.verbOK)
		}
	}
}

func TestParse(t *testing.T) {
	tmpl, err := Parse("/v1/{parent=organizations/*}/{resource=*}:export")
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.Verb() != "export" || !slices.Equal(tmpl.Fields(), []string{"parent", "resource"}) || tmpl.String() != "/v1/{parent=organizations/*}/{resource=*}:export" {
		t.Errorf("got verb %q fields %q", tmpl.Verb(), tmpl.Fields())
	}
	for _, bad := range []string{
		"v1/x", "/v1/x/", "/v1/{a", "/v1/a}", "/v1/{a={b}}", "/v1/x{a}", "/v1/{a}x", "/v1/{1a}", "/v1/{a.}",
		"/v1/**/x", "/v1/x:", "/v1/x:a/b", "/v1//x", "/v1/{a=}",
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted it", bad)
		}
	}
}
