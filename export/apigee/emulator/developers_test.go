package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// TestDevelopersPagingIsInclusive pages 2501 developers by 1000 the way the
// API documents: each follow-up page starts with the startKey developer.
func TestDevelopersPagingIsInclusive(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 2501, Seed: 3})
	s := start(t, d, Options{})
	want := make([]string, len(d.Orgs[0].Developers))
	for i, dev := range d.Orgs[0].Developers {
		want[i] = dev.GetEmail()
	}
	if slices.IsSorted(want) {
		t.Fatal("generated emails are sorted; the server order would look alphabetical")
	}
	var got []string
	var sizes []int
	startKey := ""
	for {
		u := orgURL(s, "acme") + "/developers?includeCompany=true&count=1000"
		if startKey != "" {
			u += "&startKey=" + url.QueryEscape(startKey)
		}
		keys := keysOf(t, items(t, get(t, u).ok(t), "developer"), "email")
		sizes = append(sizes, len(keys))
		if startKey != "" {
			if keys[0] != startKey {
				t.Fatalf("page starts with %s, want the startKey %s", keys[0], startKey)
			}
			keys = keys[1:]
		}
		got = append(got, keys...)
		if len(keys) < 999 {
			break
		}
		startKey = got[len(got)-1]
	}
	if !slices.Equal(sizes, []int{1000, 1000, 503}) {
		t.Fatalf("page sizes %v, want [1000 1000 503]", sizes)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d emails, want the %d in server order", len(got), len(want))
	}
}

func TestDevelopersListLimitsAndShapes(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 1200, Apps: 300, Seed: 4})
	s := start(t, d, Options{})
	base := orgURL(s, "acme") + "/developers"

	if n := len(items(t, get(t, base).ok(t), "developer")); n != 1000 {
		t.Fatalf("no count: %d developers, want the 1000 cap", n)
	}
	for _, c := range []string{"1001", "0", "-1", "ten"} {
		get(t, base+"?count="+c).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	}
	msg := get(t, base+"?count=5&startKey=nobody@example.com").googleError(t, http.StatusNotFound, "NOT_FOUND")
	if !strings.Contains(msg, "nobody@example.com") {
		t.Fatalf("404 message %q does not name the missing startKey", msg)
	}

	// expand=true: the records themselves, as stored.
	m := get(t, base+"?expand=true&includeCompany=true&count=7&startKey="+url.QueryEscape(d.Orgs[0].Developers[10].GetEmail())).ok(t)
	list := items(t, m, "developer")
	if len(list) != 7 {
		t.Fatalf("%d developers, want 7", len(list))
	}
	for i, raw := range list {
		got := decode(t, raw, &apigeepb.Developer{})
		if want := d.Orgs[0].Developers[10+i]; !proto.Equal(got, want) {
			t.Fatalf("developer %d:\n got %v\nwant %v", i, got, want)
		}
	}
	if !strings.Contains(string(list[0]), `"createdAt":"`) {
		t.Fatalf("int64 not written as a JSON string: %s", list[0])
	}
	// Unknown parameters and filters the emulator lacks are refused.
	get(t, base+"?includeCompany=maybe").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	get(t, base+"?pagesize=10").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	get(t, base+"?app=x").googleError(t, http.StatusNotImplemented, "UNIMPLEMENTED")
	get(t, base+"?expand=maybe").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
}

func TestEmptyListsAndUnknownOrgs(t *testing.T) {
	s := start(t, Generate(GenerateSpec{Seed: 1}), Options{})
	for _, p := range []string{"/developers", "/apps?pageSize=10", "/apiproducts"} {
		m := get(t, orgURL(s, "acme")+p).ok(t)
		if len(m) != 0 {
			t.Fatalf("%s in an empty org: %v, want {}", p, m)
		}
	}
	m := get(t, orgURL(s, "acme")).ok(t)
	if str(t, m["name"]) != "acme" {
		t.Fatalf("organization %v", m)
	}
	get(t, orgURL(s, "nobody")).googleError(t, http.StatusNotFound, "NOT_FOUND")
	get(t, orgURL(s, "nobody")+"/developers").googleError(t, http.StatusNotFound, "NOT_FOUND")
	get(t, s.URL+"/v1/organizations/acme/environments").googleError(t, http.StatusNotFound, "NOT_FOUND")
	get(t, s.URL+"/v2/anything").googleError(t, http.StatusNotFound, "NOT_FOUND")
	do(t, http.MethodDelete, orgURL(s, "acme")+"/apps", "", nil).googleError(t, http.StatusMethodNotAllowed, "UNIMPLEMENTED")
	do(t, http.MethodPatch, orgURL(s, "acme")+"/developers/x@example.com", "application/json", []byte("{}")).googleError(t, http.StatusMethodNotAllowed, "UNIMPLEMENTED")
}

func developerJSON(email string, attrs int) []byte {
	var as []string
	for i := range attrs {
		as = append(as, fmt.Sprintf(`{"name":"a%d","value":"v%d, \"q\"\n"}`, i, i))
	}
	return fmt.Appendf(nil, `{"email":%q,"firstName":"Zoë","lastName":"O'Brien","userName":"zoe","attributes":[%s],"status":"inactive","createdAt":"1"}`,
		email, strings.Join(as, ","))
}

func TestCreateGetUpdateDeveloper(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 3, Seed: 2})
	s := start(t, d, Options{})
	base := orgURL(s, "acme") + "/developers"
	const ct = "application/json"

	r := do(t, http.MethodPost, base, ct, developerJSON("zoe@example.com", 2))
	if r.code != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", r.code, r.body)
	}
	created := decode(t, r.body, &apigeepb.Developer{})
	if created.GetStatus() != "active" || created.GetCreatedAt() <= 1 || created.GetLastModifiedAt() != created.GetCreatedAt() ||
		created.GetDeveloperId() == "" || created.GetOrganizationName() != "acme" || len(created.Attributes) != 2 {
		t.Fatalf("created developer %v: want active, server times and id, the org, the attributes", created)
	}
	// It is listed last (creation order) and readable by email.
	keys := keysOf(t, items(t, get(t, base).ok(t), "developer"), "email")
	if len(keys) != 4 || keys[3] != "zoe@example.com" {
		t.Fatalf("list after create: %v", keys)
	}
	if !proto.Equal(decode(t, get(t, base+"/zoe@example.com").body, &apigeepb.Developer{}), created) {
		t.Fatal("get differs from what create returned")
	}

	do(t, http.MethodPost, base, ct, developerJSON("zoe@example.com", 0)).googleError(t, http.StatusConflict, "ALREADY_EXISTS")
	do(t, http.MethodPost, base, ct, developerJSON("Zoe2@Example.com", 0)).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPost, base, ct, developerJSON("many@example.com", 19)).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPost, base, ct, []byte(`{"email":"x@example.com","firstName":"X"}`)).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPost, base, ct, []byte(`{"email":"x@example.com","firstName":"X","lastName":"Y","userName":"x","nickname":"z"}`)).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPost, base, ct, []byte(`{`)).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	if r := do(t, http.MethodPost, base, ct, developerJSON("max@example.com", 18)); r.code != http.StatusCreated {
		t.Fatalf("18 attributes, the limit: HTTP %d %s", r.code, r.body)
	}
	get(t, base+"/ghost@example.com").googleError(t, http.StatusNotFound, "NOT_FOUND")

	// Update replaces the mutable fields and keeps ids, status and creation.
	upd := []byte(`{"email":"zoe@example.com","firstName":"Zoe","lastName":"Smith, Jr.","userName":"zs","attributes":[{"name":"tier","value":"gold"}]}`)
	r = do(t, http.MethodPut, base+"/zoe@example.com", ct, upd)
	r.ok(t)
	u := decode(t, r.body, &apigeepb.Developer{})
	if u.GetFirstName() != "Zoe" || u.GetLastName() != "Smith, Jr." || len(u.Attributes) != 1 || u.GetDeveloperId() != created.GetDeveloperId() ||
		u.GetCreatedAt() != created.GetCreatedAt() || u.GetStatus() != "active" || u.GetLastModifiedAt() < created.GetLastModifiedAt() {
		t.Fatalf("updated developer %v", u)
	}
	if !proto.Equal(decode(t, get(t, base+"/zoe@example.com").body, &apigeepb.Developer{}), u) {
		t.Fatal("get after update differs from the update's answer")
	}
	do(t, http.MethodPut, base+"/zoe@example.com", ct, developerJSON("zoe@example.com", 19)).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPut, base+"/zoe@example.com", ct, []byte(`{"email":"zoe@example.com","firstName":"Zoe"}`)).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPut, base+"/ghost@example.com", ct, upd).googleError(t, http.StatusNotFound, "NOT_FOUND")

	// A client's Data is not changed by writes.
	if len(d.Orgs[0].Developers) != 3 {
		t.Fatal("a write changed the caller's Data")
	}
}

func TestDeveloperGetShowsAtMost100Apps(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 1, Apps: 150, Seed: 5})
	dev := d.Orgs[0].Developers[0]
	if len(dev.Apps) != 100 {
		t.Fatalf("generated developer lists %d apps, want the first 100 of 150", len(dev.Apps))
	}
	for i := range 50 {
		dev.Apps = append(dev.Apps, "extra-"+strconv.Itoa(i))
	}
	s := start(t, d, Options{})
	got := decode(t, get(t, orgURL(s, "acme")+"/developers/"+url.PathEscape(dev.GetEmail())).body, &apigeepb.Developer{})
	if len(got.Apps) != 100 || got.Apps[0] != dev.Apps[0] {
		t.Fatalf("get returned %d app names, want the first 100", len(got.Apps))
	}
	// By developerId too, as setDeveloperStatus documents the id form.
	byID := decode(t, get(t, orgURL(s, "acme")+"/developers/"+dev.GetDeveloperId()).body, &apigeepb.Developer{})
	if byID.GetEmail() != dev.GetEmail() {
		t.Fatalf("get by developerId found %q", byID.GetEmail())
	}
	// Developer apps: at most 100 a call, inclusive startKey by name.
	apps := orgURL(s, "acme") + "/developers/" + url.PathEscape(dev.GetEmail()) + "/apps"
	ids := keysOf(t, items(t, get(t, apps).ok(t), "app"), "appId")
	if len(ids) != 100 || ids[0] != d.Orgs[0].Apps[0].GetAppId() {
		t.Fatalf("developer apps: %d, want 100 starting with the first app", len(ids))
	}
	if n := len(items(t, get(t, apps+"?count=1000").ok(t), "app")); n != 100 {
		t.Fatalf("count=1000 gave %d developer apps, want the cap of 100", n)
	}
	get(t, apps+"?count=1001").googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	a99 := d.Orgs[0].Apps[99]
	page := items(t, get(t, apps+"?expand=true&startKey="+url.QueryEscape(a99.GetName())).ok(t), "app")
	if len(page) != 51 {
		t.Fatalf("from app 99: %d apps, want 51", len(page))
	}
	first := decode(t, page[0], &apigeepb.DeveloperApp{})
	if first.GetAppId() != a99.GetAppId() || len(first.Credentials) != len(a99.Credentials) || len(first.ApiProducts) != len(a99.ApiProducts) {
		t.Fatalf("developer app %v does not show app %s", first, a99.GetAppId())
	}
	shallow := decode(t, items(t, get(t, apps+"?shallowExpand=true&count=1").ok(t), "app")[0], &apigeepb.DeveloperApp{})
	if shallow.GetName() == "" || len(shallow.Credentials) != 0 {
		t.Fatalf("shallow developer app %v: want the app without credentials", shallow)
	}
	get(t, apps+"?startKey=nope").googleError(t, http.StatusNotFound, "NOT_FOUND")
	one := decode(t, get(t, apps+"/"+url.PathEscape(a99.GetName())).body, &apigeepb.DeveloperApp{})
	if one.GetAppId() != a99.GetAppId() {
		t.Fatalf("developer app get: %v", one)
	}
	get(t, apps+"/nope").googleError(t, http.StatusNotFound, "NOT_FOUND")
}

func TestDeveloperAttributesAndStatus(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 2, Seed: 6})
	s := start(t, d, Options{})
	email := d.Orgs[0].Developers[1].GetEmail()
	dev := orgURL(s, "acme") + "/developers/" + url.PathEscape(email)

	body := []byte(`{"attribute":[{"name":"a","value":"1, \"one\""},{"name":"b","value":"x\r\ny"}]}`)
	r := do(t, http.MethodPost, dev+"/attributes", "application/json", body)
	got := decode(t, r.body, &apigeepb.Attributes{})
	if r.code != http.StatusOK || len(got.Attribute) != 2 || got.Attribute[1].GetValue() != "x\r\ny" {
		t.Fatalf("attributes: HTTP %d %s", r.code, r.body)
	}
	after := decode(t, get(t, dev).body, &apigeepb.Developer{})
	if len(after.Attributes) != 2 || after.Attributes[0].GetName() != "a" {
		t.Fatalf("attributes were not replaced: %v", after.Attributes)
	}
	listed := decode(t, get(t, dev+"/attributes").body, &apigeepb.Attributes{})
	if len(listed.Attribute) != 2 {
		t.Fatalf("attribute list %v", listed)
	}
	var many []string
	for i := range 19 {
		many = append(many, fmt.Sprintf(`{"name":"n%d","value":"v"}`, i))
	}
	do(t, http.MethodPost, dev+"/attributes", "application/json", []byte(`{"attribute":[`+strings.Join(many, ",")+`]}`)).
		googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPost, orgURL(s, "acme")+"/developers/ghost@example.com/attributes", "application/json", body).
		googleError(t, http.StatusNotFound, "NOT_FOUND")

	// setDeveloperStatus: octet-stream, action=active|inactive, 204.
	r = do(t, http.MethodPost, dev+"?action=inactive", "application/octet-stream", nil)
	if r.code != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("set status: HTTP %d %q, want 204 and no body", r.code, r.body)
	}
	if st := decode(t, get(t, dev).body, &apigeepb.Developer{}).GetStatus(); st != "inactive" {
		t.Fatalf("status %q after action=inactive", st)
	}
	keys := keysOf(t, items(t, get(t, orgURL(s, "acme")+"/developers?includeCompany=true").ok(t), "developer"), "email")
	if len(keys) != 2 {
		t.Fatalf("an inactive developer must still be listed: %v", keys)
	}
	if r := do(t, http.MethodPost, dev+"?action=active", "application/octet-stream", nil); r.code != http.StatusNoContent {
		t.Fatalf("HTTP %d", r.code)
	}
	do(t, http.MethodPost, dev+"?action=active", "application/json", nil).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPost, dev+"?action=active", "", nil).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPost, dev+"?action=deleted", "application/octet-stream", nil).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPost, dev, "application/octet-stream", nil).googleError(t, http.StatusBadRequest, "INVALID_ARGUMENT")
	do(t, http.MethodPost, orgURL(s, "acme")+"/developers/ghost@example.com?action=active", "application/octet-stream", nil).
		googleError(t, http.StatusNotFound, "NOT_FOUND")
}

// TestDeleteDeveloperCascades removes a developer and checks its apps and
// keys are gone from every view, and its email no longer works as startKey.
func TestDeleteDeveloperCascades(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 5, Apps: 60, Seed: 8})
	s := start(t, d, Options{})
	victim := d.Orgs[0].Developers[2]
	var theirs, others []string
	for _, a := range d.Orgs[0].Apps {
		if a.GetDeveloperEmail() == victim.GetEmail() {
			theirs = append(theirs, a.GetAppId())
		} else {
			others = append(others, a.GetAppId())
		}
	}
	if len(theirs) == 0 {
		t.Fatal("the victim has no apps; pick another seed")
	}
	base := orgURL(s, "acme")
	r := do(t, http.MethodDelete, base+"/developers/"+url.PathEscape(victim.GetEmail()), "", nil)
	r.ok(t)
	if !proto.Equal(decode(t, r.body, &apigeepb.Developer{}), victim) {
		t.Fatal("delete did not return the deleted developer")
	}
	get(t, base+"/developers/"+url.PathEscape(victim.GetEmail())).googleError(t, http.StatusNotFound, "NOT_FOUND")
	get(t, base+"/developers?startKey="+url.QueryEscape(victim.GetEmail())).googleError(t, http.StatusNotFound, "NOT_FOUND")
	do(t, http.MethodDelete, base+"/developers/"+url.PathEscape(victim.GetEmail()), "", nil).googleError(t, http.StatusNotFound, "NOT_FOUND")
	for _, id := range theirs {
		get(t, base+"/apps/"+id).googleError(t, http.StatusNotFound, "NOT_FOUND")
	}
	var left []string
	for _, st := range []string{"approved", "revoked"} {
		for _, ks := range []string{"approved", "revoked"} {
			m := get(t, base+"/apps?status="+st+"&keyStatus="+ks).ok(t)
			ids := keysOf(t, items(t, m, "app"), "appId")
			left = append(left, ids...)
			total := 0
			if raw, ok := m["totalSize"]; ok {
				total, _ = strconv.Atoi(string(raw))
			}
			if total != len(ids) {
				t.Fatalf("after the cascade status=%s&keyStatus=%s lists %d apps, totalSize %d", st, ks, len(ids), total)
			}
		}
	}
	slices.Sort(left)
	left = slices.Compact(left)
	slices.Sort(others)
	if !slices.Equal(left, others) {
		t.Fatalf("after the cascade %d apps listed, want the %d of other developers", len(left), len(others))
	}
	keys := keysOf(t, items(t, get(t, base+"/developers?includeCompany=true").ok(t), "developer"), "email")
	if len(keys) != 4 || slices.Contains(keys, victim.GetEmail()) {
		t.Fatalf("developers after delete: %v", keys)
	}
}

// TestCompanyDevelopersNeedIncludeCompany checks the documented default of
// developers.list: "By default, the response does not include company
// developers. Set the includeCompany query parameter to true to include
// company developers." Paging by startKey keeps that filter, also from the
// key of a company developer.
func TestCompanyDevelopersNeedIncludeCompany(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 300, Seed: 5})
	s := start(t, d, Options{})
	base := orgURL(s, "acme") + "/developers"
	var all, plain []string
	var company string
	for _, dev := range d.Orgs[0].Developers {
		all = append(all, dev.GetEmail())
		if len(dev.GetCompanies()) == 0 {
			plain = append(plain, dev.GetEmail())
		} else if company == "" {
			company = dev.GetEmail()
		}
	}
	if len(plain) == len(all) || company == "" {
		t.Fatal("no company developers generated; pick another seed")
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", plain},
		{"?includeCompany=false", plain},
		{"?includeCompany=true", all},
		{"?expand=true&count=1000", plain},
		{"?expand=true&count=1000&includeCompany=true", all},
	} {
		list := items(t, get(t, base+c.query).ok(t), "developer")
		var got []string
		for _, raw := range list {
			got = append(got, decode(t, raw, &apigeepb.Developer{}).GetEmail())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("developers%s: %d developers, want %d", c.query, len(got), len(c.want))
		}
	}
	// From a company developer's key without includeCompany: the page
	// starts after it.
	keys := keysOf(t, items(t, get(t, base+"?count=5&startKey="+url.QueryEscape(company)).ok(t), "developer"), "email")
	if slices.Contains(keys, company) {
		t.Errorf("company developer %s listed without includeCompany", company)
	}
}
