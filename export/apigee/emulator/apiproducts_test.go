package emulator

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// TestAPIProductsPaging pages 1201 products by 500 with an inclusive
// startKey; generated names include spaces, $ and %, which must survive
// query escaping.
func TestAPIProductsPaging(t *testing.T) {
	d := Generate(GenerateSpec{APIProducts: 1201, Seed: 14})
	s := start(t, d, Options{})
	var want []string
	odd := false
	for _, p := range d.Orgs[0].APIProducts {
		want = append(want, p.GetName())
		odd = odd || strings.ContainsAny(p.GetName(), " $%")
	}
	if !odd {
		t.Fatal("no product name with a space, $ or %")
	}
	base := orgURL(s, "acme") + "/apiproducts"
	var got []string
	startKey := ""
	for {
		u := base + "?count=500"
		if startKey != "" {
			u += "&startKey=" + url.QueryEscape(startKey)
		}
		keys := keysOf(t, items(t, get(t, u).ok(t), "apiProduct"), "name")
		if startKey != "" {
			if keys[0] != startKey {
				t.Fatalf("page starts with %q, want the startKey %q", keys[0], startKey)
			}
			keys = keys[1:]
		}
		got = append(got, keys...)
		if len(keys) < 499 {
			break
		}
		startKey = got[len(got)-1]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d products, want %d in server order", len(got), len(want))
	}
	if n := len(items(t, get(t, base).ok(t), "apiProduct")); n != 1000 {
		t.Fatalf("no count: %d products, want the 1000 cap", n)
	}
	get(t, base+"?count=1001").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	get(t, base+"?startKey=nope").googleError(t, http.StatusNotFound, "NOT_FOUND")
	get(t, base+"?attributename=access").googleError(t, http.StatusNotImplemented, "UNIMPLEMENTED")

	// expand=true works with count and startKey and gives the stored records.
	p5 := d.Orgs[0].APIProducts[5]
	list := items(t, get(t, base+"?expand=true&count=3&startKey="+url.QueryEscape(p5.GetName())).ok(t), "apiProduct")
	for i, raw := range list {
		if got := decode(t, raw, &apigeepb.ApiProduct{}); !proto.Equal(got, d.Orgs[0].APIProducts[5+i]) {
			t.Fatalf("product %d differs from the stored one", 5+i)
		}
	}
	for _, p := range d.Orgs[0].APIProducts {
		if strings.Contains(p.GetName(), " ") {
			got := decode(t, get(t, base+"/"+url.PathEscape(p.GetName())).body, &apigeepb.ApiProduct{})
			if !proto.Equal(got, p) {
				t.Fatalf("get %q differs from the stored product", p.GetName())
			}
			break
		}
	}
	get(t, base+"/nope").googleError(t, http.StatusNotFound, "NOT_FOUND")
}
