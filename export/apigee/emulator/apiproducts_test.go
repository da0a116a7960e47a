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

// TestAPIProductsSpaces: products of a denied Space are left out of
// apiproducts.list, before the count cut (full pages) or, with
// SpacesAfterCount, after it (a short page with more after it); space=
// lists one Space, and a denied one answers 403, as does a get of its
// products.
func TestAPIProductsSpaces(t *testing.T) {
	d := Generate(GenerateSpec{APIProducts: 300, Seed: 3, Spaces: true})
	var visible, inSpace2 []string
	var hidden string
	for _, p := range d.Orgs[0].APIProducts {
		switch p.GetSpace() {
		case "space-1":
			hidden = p.GetName()
			continue
		case "space-2":
			inSpace2 = append(inSpace2, p.GetName())
		}
		visible = append(visible, p.GetName())
	}
	if hidden == "" || len(inSpace2) == 0 {
		t.Fatal("no products generated in space-1 or space-2")
	}
	if plain := Generate(GenerateSpec{APIProducts: 300, Seed: 3}); slices.ContainsFunc(plain.Orgs[0].APIProducts, func(p *apigeepb.ApiProduct) bool { return p.Space != nil }) {
		t.Fatal("a product has a Space without GenerateSpec.Spaces")
	}
	for _, after := range []bool{false, true} {
		s := start(t, d, Options{DeniedSpaces: []string{"space-1"}, SpacesAfterCount: after})
		base := orgURL(s, "acme") + "/apiproducts"
		var got []string
		short := 0
		for startKey := ""; ; {
			u := base + "?count=50"
			if startKey != "" {
				u += "&startKey=" + url.QueryEscape(startKey)
			}
			keys := keysOf(t, items(t, get(t, u).ok(t), "apiProduct"), "name")
			if startKey != "" && len(keys) > 0 && keys[0] == startKey {
				keys = keys[1:]
			}
			if len(keys) == 0 {
				break
			}
			if len(keys) < 49 && len(got)+len(keys) < len(visible) {
				short++
			}
			got = append(got, keys...)
			startKey = got[len(got)-1]
		}
		if !slices.Equal(got, visible) {
			t.Fatalf("after count %v: listed %d products, want the %d outside space-1", after, len(got), len(visible))
		}
		if after != (short > 0) {
			t.Fatalf("after count %v: %d short pages before the end", after, short)
		}
		keys := keysOf(t, items(t, get(t, base+"?space=space-2&count=1000").ok(t), "apiProduct"), "name")
		if !slices.Equal(keys, inSpace2) {
			t.Fatalf("space=space-2: %v, want %v", keys, inSpace2)
		}
		msg := get(t, base+"?space=space-1").googleError(t, http.StatusForbidden, "PERMISSION_DENIED")
		if !strings.Contains(msg, "apigee.apiproducts.list") || !strings.Contains(msg, "spaces/space-1") {
			t.Fatalf("403 message %q names neither the permission nor the Space", msg)
		}
		get(t, base+"/"+url.PathEscape(hidden)).googleError(t, http.StatusForbidden, "PERMISSION_DENIED")
		get(t, base+"?space=").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	}
}
