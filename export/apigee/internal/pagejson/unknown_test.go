package pagejson

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"pubexport/export/apigee/apigeepb"
)

// TestDecodeUnknownNames: unknown fields are named by their path of JSON
// names (array indexes left out), unknown enum values by their field's path
// and the value; those inside each record are counted apart too; and
// a page naming many distinct things is bounded.
func TestDecodeUnknownNames(t *testing.T) {
	p, err := Compile((&apigeepb.ListApiProductsResponse{}).ProtoReflect().Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	page := `{"apiProduct":[` +
		`{"name":"a","newTop":1,"quotaCounterScope":"API_SOURCE","operationGroup":{"operationConfigs":[{"apiSource":"p","newDeep":{"x":[1]}}]}},` +
		`{"name":"b","newTop":{"y":2},"quotaCounterScope":"PROXY"},` +
		`{"name":"c","quotaCounterScope":"API_SOURCE"}],"pageInfo":"x"}`
	all, records, err := p.DecodeUnknown(page, (&apigeepb.ListApiProductsResponse{}).ProtoReflect())
	if err != nil {
		t.Fatal(err)
	}
	want := Unknown{
		{Path: "apiProduct.newTop"}:                                  2,
		{Path: "apiProduct.quotaCounterScope", Value: "API_SOURCE"}:  2,
		{Path: "apiProduct.operationGroup.operationConfigs.newDeep"}: 1,
		{Path: "pageInfo"}: 1,
	}
	if !maps.Equal(all, want) {
		t.Errorf("unknown %v, want %v", all, want)
	}
	wantFirst := Unknown{
		{Path: "apiProduct.newTop"}:                                  1,
		{Path: "apiProduct.quotaCounterScope", Value: "API_SOURCE"}:  1,
		{Path: "apiProduct.operationGroup.operationConfigs.newDeep"}: 1,
	}
	if !maps.Equal(records[0], wantFirst) {
		t.Errorf("first record %v, want %v", records[0], wantFirst)
	}
	if want := (Unknown{{Path: "apiProduct.newTop"}: 1}); len(records) != 3 || !maps.Equal(records[1], want) {
		t.Errorf("records %v, want one for each record, %v for the second", records, want)
	}

	var b strings.Builder
	b.WriteString(`{"apiProduct":[{"name":"a"`)
	for i := range 500 {
		fmt.Fprintf(&b, `,"f%d":1`, i)
	}
	b.WriteString(`,"` + strings.Repeat("n", 1000) + `":1}]}`)
	all, _, err = p.DecodeUnknown(b.String(), (&apigeepb.ListApiProductsResponse{}).ProtoReflect())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) > maxUnknownKinds || all.Total() != 501 || all[OtherUnknown] != 501-(maxUnknownKinds-1) {
		t.Errorf("%d kinds, %d in all, %d other: want at most %d kinds holding all 501", len(all), all.Total(), all[OtherUnknown], maxUnknownKinds)
	}
	for k := range all {
		if len(k.Path) > maxUnknownName+len("apiProduct.")+len("...") {
			t.Errorf("a name of %d bytes kept", len(k.Path))
		}
	}
}
