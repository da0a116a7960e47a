package server

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
)

// httpRoute is "METHOD template" of a rule.
func httpRoute(r *annotations.HttpRule) string {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET " + p.Get
	case *annotations.HttpRule_Post:
		return "POST " + p.Post
	case *annotations.HttpRule_Delete:
		return "DELETE " + p.Delete
	case *annotations.HttpRule_Put:
		return "PUT " + p.Put
	case *annotations.HttpRule_Patch:
		return "PATCH " + p.Patch
	}
	return "?"
}

// TestContractRules pins the REST surface the contract declares: the
// routes the console, opsclient and the README's curl lines use, with the
// gRPC method each one maps to. A change here is a change of the public
// API.
func TestContractRules(t *testing.T) {
	rules, err := contractRules()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, httpRoute(r)+" body="+r.GetBody()+" -> "+r.GetSelector())
	}
	want := []string{
		"POST /v1/{parent=organizations/*}/{resource=*}:export body=* -> pubexport.v1.ExportService.Export",
		"GET /v1/{name=organizations/*/operations} body= -> google.longrunning.Operations.ListOperations",
		"GET /v1/{name=organizations/*/operations/*} body= -> google.longrunning.Operations.GetOperation",
		"DELETE /v1/{name=organizations/*/operations/*} body= -> google.longrunning.Operations.DeleteOperation",
		"POST /v1/{name=organizations/*/operations/*}:cancel body=* -> google.longrunning.Operations.CancelOperation",
		"POST /v1/{name=organizations/*/operations/*}:wait body=* -> google.longrunning.Operations.WaitOperation",
	}
	if !slices.Equal(got, want) {
		t.Errorf("contract rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestEveryContractRouteIsServed sends a request on every route the
// contract's rules declare and checks it reaches the method the rule
// selects (and that the route refuses other HTTP methods); paths beside the
// routes are NOT_FOUND.
func TestEveryContractRouteIsServed(t *testing.T) {
	h := start(t, tokenAuth(t))
	rules, err := contractRules()
	if err != nil {
		t.Fatal(err)
	}
	// Delete last: it forgets the operation the others use.
	slices.SortStableFunc(rules, func(a, b *annotations.HttpRule) int {
		return boolInt(strings.HasPrefix(httpRoute(a), "DELETE")) - boolInt(strings.HasPrefix(httpRoute(b), "DELETE"))
	})
	name := h.ops.add("acme", "developers")
	h.ops.finish(name, 10)
	id := name[strings.LastIndex(name, "/")+1:]
	variable := regexp.MustCompile(`\{([a-z_]+)(=([^}]*))?\}`)
	wantCall := map[string]string{
		"Export": "Start", "ListOperations": "List", "GetOperation": "Get",
		"DeleteOperation": "Delete", "CancelOperation": "Cancel", "WaitOperation": "Wait",
	}
	for _, r := range rules {
		method, tmpl, _ := strings.Cut(httpRoute(r), " ")
		// Fill the template: organizations/acme/operations/{id}, resource apps.
		path := variable.ReplaceAllStringFunc(tmpl, func(v string) string {
			m := variable.FindStringSubmatch(v)
			if m[1] == "resource" {
				return "apps"
			}
			return strings.Replace(strings.Replace(m[3], "*", "acme", 1), "*", id, 1)
		})
		body := ""
		if r.GetBody() == "*" {
			body = "{}"
			if strings.HasSuffix(path, ":export") {
				body = `{"destination":"gs://b/p"}`
			}
		}
		before := len(h.ops.Calls())
		h.do(t, method, path, acmeToken, body).want200(t)
		calls := h.ops.Calls()[before:]
		sel := r.GetSelector()
		want := wantCall[sel[strings.LastIndex(sel, ".")+1:]]
		if len(calls) == 0 || !strings.HasPrefix(calls[0], want+" ") {
			t.Errorf("%s %s reached %q, want a call of %s (rule for %s)", method, path, calls, want, sel)
		}
		for _, other := range []string{"GET", "POST", "DELETE", "PUT", "PATCH"} {
			if other == method || (other == "DELETE" && strings.HasPrefix(httpRoute(r), "GET /v1/{name=organizations/*/operations/*}")) ||
				(other == "GET" && method == "DELETE") {
				continue // the same template serves both
			}
			h.do(t, other, path, acmeToken, "").wantError(t, http.StatusMethodNotAllowed, "UNIMPLEMENTED")
		}
	}
	for _, path := range []string{
		"/v1/organizations/acme/operations/" + id + "/x",
		"/v1/organizations/acme/operations/" + id + ":get",
		"/v1/organizations/acme:export",
		"/v1/organizations/acme/apps:list",
		"/v1/operations/" + id,
		"/v2/organizations/acme/operations/" + id,
	} {
		h.do(t, "GET", path, acmeToken, "").wantError(t, http.StatusNotFound, "NOT_FOUND")
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
