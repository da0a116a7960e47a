package apigee_test

import (
	"slices"
	"testing"

	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// TestUnknownFieldsNamed: fields and enum values newer than these protos
// are dropped from the records, and each distinct field path and enum value
// is named in the pages' warnings with the number of records exported
// that had it.
func TestUnknownFieldsNamed(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", APIProducts: 1500, Apps: 40, Seed: 6})
	emu := exporttest.Emulator(t, data, emulator.Options{FutureFields: true})
	cl := exporttest.ApigeeClient(t, emu)
	var proxyScope, proxyGroups, graphqlGroups int64
	// An app with approved and revoked keys is in two apps passes, and its
	// unknown field is sent in both; it is counted once, in the record
	// exported (finding 16 of the docs-only check: "88 times" for 80 apps).
	apps := int64(len(data.Orgs[0].Apps))
	overlapping := false
	for _, a := range data.Orgs[0].Apps {
		ap, rv := false, false
		for _, c := range a.GetCredentials() {
			ap, rv = ap || c.GetStatus() == "approved", rv || c.GetStatus() == "revoked"
		}
		overlapping = overlapping || ap && rv
	}
	if !overlapping {
		t.Fatal("no app with approved and revoked keys generated: the apps count tests nothing")
	}
	for _, p := range data.Orgs[0].APIProducts {
		if p.GetQuotaCounterScope() == apigeepb.ApiProduct_PROXY {
			proxyScope++
		}
		if p.GetOperationGroup().GetOperationConfigType() == "proxy" {
			proxyGroups++
		}
		if p.GetGraphqlOperationGroup().GetOperationConfigType() == "proxy" {
			graphqlGroups++
		}
	}
	for _, c := range []struct {
		r    apigee.Resource
		want []apigee.Warning
	}{
		{apigee.APIProducts, []apigee.Warning{
			{Text: `ignored unknown field "apiProduct.futureField" (newer than this pubexport; not exported)`, Count: 1500},
			{Text: `ignored unknown field "apiProduct.operationGroup.futureSetting" (newer than this pubexport; not exported)`, Count: proxyGroups},
			{Text: `ignored unknown field "apiProduct.graphqlOperationGroup.futureSetting" (newer than this pubexport; not exported)`, Count: graphqlGroups},
			{Text: `ignored unknown value "API_SOURCE" of "apiProduct.quotaCounterScope" (newer than this pubexport; exported as unset)`, Count: proxyScope},
		}},
		{apigee.Apps, []apigee.Warning{
			{Text: `ignored unknown field "app.futureField" (newer than this pubexport; not exported)`, Count: apps},
		}},
	} {
		l := cl.List("acme", c.r, apigee.Cursor{})
		var got []apigee.Warning
		var unknown int
		for {
			p, err := l.Next(t.Context())
			if err != nil {
				break
			}
			got = apigee.MergeWarnings(got, p.Warnings)
			unknown += p.Unknown
			for _, r := range p.Records {
				if pr, ok := r.(*apigeepb.ApiProduct); ok && pr.QuotaCounterScope != nil && pr.GetQuotaCounterScope() == apigeepb.ApiProduct_PROXY {
					t.Fatalf("product %s still has scope PROXY", pr.GetName())
				}
			}
		}
		want := apigee.MergeWarnings(nil, c.want)
		if !slices.Equal(got, want) {
			t.Errorf("%s warnings:\n got %v\nwant %v", c.r, got, want)
		}
		var sum int64
		for _, w := range want {
			sum += w.Count
		}
		if int64(unknown) != sum {
			t.Errorf("%s: Unknown %d, want %d", c.r, unknown, sum)
		}
	}
	if proxyScope == 0 || proxyGroups == 0 {
		t.Fatal("no PROXY scopes or proxy operation groups generated")
	}
}
