package emulator

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// TestPrerenderedServesTheSame compares a prerendered server, which keeps
// only bytes, with one that renders on demand: every read answers the same
// bytes, and writes, which decode the dropped messages again, still work.
func TestPrerenderedServesTheSame(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 30, Apps: 200, APIProducts: 12, Seed: 21})
	lazy := start(t, d, Options{})
	pre := start(t, d, Options{Prerender: true})
	o := d.Orgs[0]
	dev := o.Developers[3]
	devPath := "/developers/" + url.PathEscape(dev.GetEmail())
	var appName string
	for _, a := range o.Apps {
		if a.GetDeveloperEmail() == dev.GetEmail() {
			appName = a.GetName()
		}
	}
	if appName == "" {
		t.Fatal("developer 3 has no apps; pick another seed")
	}
	for _, p := range []string{
		"/developers?expand=true", "/developers?count=10&startKey=" + url.QueryEscape(o.Developers[5].GetEmail()),
		devPath, "/developers/" + dev.GetDeveloperId(), devPath + "/attributes",
		devPath + "/apps?expand=true", devPath + "/apps?shallowExpand=true", devPath + "/apps/" + url.PathEscape(appName),
		"/apps?expand=true&includeCred=true&pageSize=1000", "/apps?expand=true&status=revoked", "/apps?pageSize=50",
		"/apps/" + o.Apps[7].GetAppId(), "/apiproducts?expand=true", "/apiproducts/" + url.PathEscape(o.APIProducts[2].GetName()),
	} {
		a, b := get(t, orgURL(lazy, "acme")+p), get(t, orgURL(pre, "acme")+p)
		if a.code != http.StatusOK || b.code != a.code || !bytes.Equal(a.body, b.body) {
			t.Fatalf("%s: on demand HTTP %d (%d bytes), prerendered HTTP %d (%d bytes)", p, a.code, len(a.body), b.code, len(b.body))
		}
	}

	base := orgURL(pre, "acme")
	r := do(t, http.MethodPut, base+devPath, "application/json", []byte(`{"firstName":"New","lastName":"Name","userName":"nn"}`))
	u := decode(t, r.body, &apigeepb.Developer{})
	if r.code != http.StatusOK || u.GetFirstName() != "New" || u.GetDeveloperId() != dev.GetDeveloperId() || len(u.Apps) != len(dev.Apps) {
		t.Fatalf("update on a prerendered server: HTTP %d %v", r.code, u)
	}
	if r := do(t, http.MethodPost, base+devPath+"?action=inactive", "application/octet-stream", nil); r.code != http.StatusNoContent {
		t.Fatalf("set status: HTTP %d", r.code)
	}
	got := decode(t, get(t, base+devPath).body, &apigeepb.Developer{})
	if got.GetStatus() != "inactive" || got.GetFirstName() != "New" {
		t.Fatalf("after writes: %v", got)
	}
	r = do(t, http.MethodDelete, base+devPath, "", nil)
	if del := decode(t, r.body, &apigeepb.Developer{}); r.code != http.StatusOK || !proto.Equal(del, got) {
		t.Fatalf("delete returned HTTP %d %v", r.code, del)
	}
	get(t, base+devPath).googleError(t, http.StatusNotFound, "NOT_FOUND")
}
