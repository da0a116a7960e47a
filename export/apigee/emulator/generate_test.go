package emulator

import (
	"strings"
	"testing"
)

func TestGenerateIsDeterministic(t *testing.T) {
	spec := GenerateSpec{Developers: 300, Apps: 500, APIProducts: 20, Seed: 42}
	a, b := Generate(spec), Generate(spec)
	equalData(t, a, b)
	spec.Seed = 43
	c := Generate(spec)
	if c.Orgs[0].Apps[0].GetAppId() == a.Orgs[0].Apps[0].GetAppId() ||
		c.Orgs[0].Apps[0].Credentials[0].GetConsumerSecret() == a.Orgs[0].Apps[0].Credentials[0].GetConsumerSecret() {
		t.Fatal("another seed gave the same ids and secrets")
	}
	if e := Generate(GenerateSpec{Seed: 1}); len(e.Orgs) != 1 || e.Orgs[0].Name != "acme" || len(e.Orgs[0].Developers)+len(e.Orgs[0].Apps)+len(e.Orgs[0].APIProducts) != 0 {
		t.Fatalf("zero spec: %+v, want one empty org named acme", e.Orgs[0])
	}
	if n := Generate(GenerateSpec{Org: "other", Developers: 1}).Orgs[0]; n.Name != "other" || n.Developers[0].GetOrganizationName() != "other" {
		t.Fatal("the org name is not used")
	}
}

// TestGeneratedRecords checks keys are unique, references resolve, limits
// hold and the awkward cases are all there.
func TestGeneratedRecords(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 1000, Apps: 2500, APIProducts: 60, Seed: 7})
	o := d.Orgs[0]
	unique := func(kind string, keys []string) {
		t.Helper()
		seen := make(map[string]bool, len(keys))
		for _, k := range keys {
			if k == "" || seen[k] {
				t.Fatalf("%s %q empty or repeated", kind, k)
			}
			seen[k] = true
		}
	}
	var emails, devIDs, appIDs, keys, products []string
	devByEmail := map[string]string{}
	full := 0
	for _, dv := range o.Developers {
		emails = append(emails, dv.GetEmail())
		devIDs = append(devIDs, dv.GetDeveloperId())
		devByEmail[dv.GetEmail()] = dv.GetDeveloperId()
		if dv.GetEmail() != strings.ToLower(dv.GetEmail()) {
			t.Fatalf("email %q is not lowercase", dv.GetEmail())
		}
		if n := len(dv.Attributes); n > maxAttributes {
			t.Fatalf("%d attributes", n)
		} else if n == maxAttributes {
			full++
		}
		if dv.GetCreatedAt() <= 0 || dv.GetLastModifiedAt() < dv.GetCreatedAt() {
			t.Fatalf("developer times %d / %d", dv.GetCreatedAt(), dv.GetLastModifiedAt())
		}
	}
	prodNames := map[string]bool{}
	for _, p := range o.APIProducts {
		products = append(products, p.GetName())
		prodNames[p.GetName()] = true
	}
	var revokedApps, revokedKeys, multi int
	for _, a := range o.Apps {
		appIDs = append(appIDs, a.GetAppId())
		if devByEmail[a.GetDeveloperEmail()] != a.GetDeveloperId() || a.GetDeveloperEmail() == "" {
			t.Fatalf("app %s refers to developer %q / %q, which does not exist", a.GetAppId(), a.GetDeveloperEmail(), a.GetDeveloperId())
		}
		if a.GetStatus() == "revoked" {
			revokedApps++
		}
		if len(a.Credentials) > 1 {
			multi++
		}
		for _, c := range a.Credentials {
			keys = append(keys, c.GetConsumerKey())
			if c.GetConsumerSecret() == "" || c.GetIssuedAt() <= 0 {
				t.Fatalf("credential %v lacks a secret or issue time", c)
			}
			if c.GetStatus() == "revoked" {
				revokedKeys++
			}
			for _, r := range c.ApiProducts {
				if !prodNames[r.GetApiproduct()] {
					t.Fatalf("credential refers to product %q, which does not exist", r.GetApiproduct())
				}
			}
		}
	}
	unique("email", emails)
	unique("developerId", devIDs)
	unique("appId", appIDs)
	unique("consumerKey", keys)
	unique("product name", products)
	if full == 0 || revokedApps == 0 || revokedKeys == 0 || multi == 0 {
		t.Fatalf("%d developers at 18 attributes, %d revoked apps, %d revoked keys, %d multi-key apps: want some of each", full, revokedApps, revokedKeys, multi)
	}
	checkOperationGroups(t, o.APIProducts)
	checkNastyValues(t, d)

	// With no developers, apps belong to app groups instead.
	for _, a := range Generate(GenerateSpec{Apps: 5, Seed: 1}).Orgs[0].Apps {
		if a.GetDeveloperEmail() != "" || a.GetAppGroup() == "" {
			t.Fatalf("app without developers: %v", a)
		}
	}
}

// BenchmarkGenerate measures generating developers, apps and products in
// the proportions of a large org.
func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		Generate(GenerateSpec{Developers: 100_000, Apps: 100_000, APIProducts: 1000, Seed: 1})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/201_000, "ns/record")
}
