package emulator

import (
	"bytes"
	"net/url"
	"os"
	"strings"
	"testing"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// equalData compares two Data record by record.
func equalData(t *testing.T, a, b *Data) {
	t.Helper()
	if len(a.Orgs) != len(b.Orgs) {
		t.Fatalf("%d orgs vs %d", len(a.Orgs), len(b.Orgs))
	}
	for i, x := range a.Orgs {
		y := b.Orgs[i]
		if x.Name != y.Name || len(x.Developers) != len(y.Developers) || len(x.Apps) != len(y.Apps) || len(x.APIProducts) != len(y.APIProducts) {
			t.Fatalf("org %q/%q sizes differ", x.Name, y.Name)
		}
		for j := range x.Developers {
			if !proto.Equal(x.Developers[j], y.Developers[j]) {
				t.Fatalf("developer %d differs", j)
			}
		}
		for j := range x.Apps {
			if !proto.Equal(x.Apps[j], y.Apps[j]) {
				t.Fatalf("app %d differs", j)
			}
		}
		for j := range x.APIProducts {
			if !proto.Equal(x.APIProducts[j], y.APIProducts[j]) {
				t.Fatalf("product %d differs", j)
			}
		}
	}
}

// TestSampleOrg loads the repository's testdata/sample-org.json from disk,
// checks it holds what the sample promises, and that it round-trips through
// WriteTo and Load.
func TestSampleOrg(t *testing.T) {
	f, err := os.Open("../../../testdata/sample-org.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	o := d.Org("acme")
	if o == nil || len(o.Developers) < 10 || len(o.Apps) < 15 || len(o.APIProducts) < 5 {
		t.Fatalf("sample org too small: %+v", o)
	}
	var revokedApps, multiCred, revokedCreds, maxAttrs int
	devs := map[string]string{}
	for _, dv := range o.Developers {
		devs[dv.GetEmail()] = dv.GetDeveloperId()
		if len(dv.Attributes) == maxAttributes {
			maxAttrs++
		}
		if dv.GetEmail() != strings.ToLower(dv.GetEmail()) {
			t.Fatalf("email %q is not lowercase", dv.GetEmail())
		}
	}
	for _, a := range o.Apps {
		if a.GetStatus() == "revoked" {
			revokedApps++
		}
		if len(a.Credentials) > 1 {
			multiCred++
		}
		for _, c := range a.Credentials {
			if c.GetStatus() == "revoked" {
				revokedCreds++
			}
		}
		if e := a.GetDeveloperEmail(); e != "" && devs[e] != a.GetDeveloperId() {
			t.Fatalf("app %s names developer %s / %s, which does not exist", a.GetName(), e, a.GetDeveloperId())
		}
	}
	if revokedApps == 0 || multiCred == 0 || revokedCreds == 0 || maxAttrs == 0 {
		t.Fatalf("sample lacks cases: %d revoked apps, %d multi-credential apps, %d revoked keys, %d developers at 18 attributes",
			revokedApps, multiCred, revokedCreds, maxAttrs)
	}
	checkOperationGroups(t, o.APIProducts)
	checkNastyValues(t, d)

	var buf bytes.Buffer
	if _, err := d.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	again, err := Load(&buf)
	if err != nil {
		t.Fatalf("reloading WriteTo's output: %v", err)
	}
	equalData(t, d, again)
	// Sample is the same file, embedded, and a fresh copy each time.
	s1, s2 := Sample(), Sample()
	equalData(t, d, s1)
	s1.Orgs[0].Developers[0].FirstName = proto.String("changed")
	if s2.Orgs[0].Developers[0].GetFirstName() == "changed" {
		t.Fatal("Sample returned shared records")
	}
}

func checkOperationGroups(t *testing.T, ps []*apigeepb.ApiProduct) {
	t.Helper()
	var op, gql, grpc, llm, payload, scope bool
	for _, p := range ps {
		op = op || p.OperationGroup != nil
		gql = gql || p.GraphqlOperationGroup != nil
		grpc = grpc || p.GrpcOperationGroup != nil
		llm = llm || p.LlmOperationGroup != nil
		payload = payload || p.PayloadOperationGroup != nil
		scope = scope || p.GetQuotaCounterScope() != apigeepb.ApiProduct_QUOTA_COUNTER_SCOPE_UNSPECIFIED
	}
	if !op || !gql || !grpc || !llm || !payload || !scope {
		t.Fatalf("operation groups: rest %v graphql %v grpc %v llm %v payload %v, quotaCounterScope %v", op, gql, grpc, llm, payload, scope)
	}
}

// checkNastyValues looks for the values that break naive CSV and JSON
// handling somewhere in d's records.
func checkNastyValues(t *testing.T, d *Data) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := d.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for name, probe := range map[string]string{
		"comma in a value": `, `, "quote": `\"`, "LF": `\n`, "CRLF": `\r\n`, "tab": `\t`, "emoji": "🚀",
	} {
		if !strings.Contains(s, probe) {
			t.Errorf("no %s (%q) in the data", name, probe)
		}
	}
	if !strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) ||
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Arabic, r) }) ||
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Latin, r) && r > unicode.MaxASCII }) {
		t.Error("the data lacks accented Latin, Han or Arabic (right-to-left) text")
	}
	if !strings.Contains(s, `"value":"=`) {
		t.Error("no value starting with '=' (spreadsheet formula)")
	}
}

func TestLoadRefusesBadSeeds(t *testing.T) {
	for name, seed := range map[string]string{
		"not JSON":             `{`,
		"unknown top field":    `{"orgs":[]}`,
		"no org name":          `{"organizations":[{"developers":[]}]}`,
		"duplicate org":        `{"organizations":[{"name":"a"},{"name":"a"}]}`,
		"unknown record field": `{"organizations":[{"name":"a","developers":[{"email":"x@example.com","nick":"x"}]}]}`,
		"duplicate email":      `{"organizations":[{"name":"a","developers":[{"email":"x@example.com"},{"email":"x@example.com"}]}]}`,
		"app without id":       `{"organizations":[{"name":"a","apps":[{"name":"x"}]}]}`,
		"int64 not a number":   `{"organizations":[{"name":"a","apiProducts":[{"name":"p","createdAt":"soon"}]}]}`,
	} {
		_, err := Load(strings.NewReader(seed))
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", name, err)
		}
	}
}

// TestServeSample serves the embedded sample and reads every record back
// through the lists, checking each is served exactly as stored.
func TestServeSample(t *testing.T) {
	d := Sample()
	s := start(t, d, Options{})
	o := d.Orgs[0]
	base := orgURL(s, "acme")
	devs := items(t, get(t, base+"/developers?expand=true&includeCompany=true").ok(t), "developer")
	for i, raw := range devs {
		if !proto.Equal(decode(t, raw, &apigeepb.Developer{}), o.Developers[i]) {
			t.Fatalf("developer %d served differently", i)
		}
	}
	// Every app is in at least one of the (status, keyStatus) listings; an
	// app with mixed keys is in two.
	seen := map[string]bool{}
	for _, st := range []string{"approved", "revoked"} {
		for _, ks := range []string{"approved", "revoked"} {
			for _, raw := range items(t, get(t, base+"/apps?expand=true&includeCred=true&pageSize=100&status="+st+"&keyStatus="+ks).ok(t), "app") {
				a := decode(t, raw, &apigeepb.App{})
				found := false
				for _, w := range o.Apps {
					found = found || proto.Equal(a, w)
				}
				if !found || a.GetStatus() != st {
					t.Fatalf("app %s served differently", a.GetAppId())
				}
				seen[a.GetAppId()] = true
			}
		}
	}
	apps := len(seen)
	prods := items(t, get(t, base+"/apiproducts?expand=true").ok(t), "apiProduct")
	if len(devs) != len(o.Developers) || apps != len(o.Apps) || len(prods) != len(o.APIProducts) {
		t.Fatalf("served %d/%d/%d records, want %d/%d/%d", len(devs), apps, len(prods), len(o.Developers), len(o.Apps), len(o.APIProducts))
	}
	// Developer apps by name, unicode and commas included.
	for _, dv := range o.Developers {
		for _, name := range dv.Apps {
			u := base + "/developers/" + url.PathEscape(dv.GetEmail()) + "/apps/" + url.PathEscape(name)
			if got := str(t, get(t, u).ok(t)["name"]); got != name {
				t.Fatalf("developer app %q served as %q", name, got)
			}
		}
	}
}
