package emulator

import (
	"net/http"
	"slices"
)

// apiProducts serves organizations/{org}/apiproducts: count (at most 1000,
// 400 above) and an inclusive startKey (the product name), no token, no
// total. Unlike developers, expand combines with paging by documentation.
//
// space lists the products of one Space, as documented ("The Space to list
// API products for ... Can be used in conjunction with start_key, expand
// and count"), and answers 403 for a Space in Options.DeniedSpaces. Without
// it the list holds the products of every Space the caller may list ("When
// none provided, all the spaces the user has list access, will be used
// implicitly"): those of DeniedSpaces are left out, before the count cut or,
// with Options.SpacesAfterCount, after it.
func (h *handler) apiProducts(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	if err := checkParams(r, paramSet{"expand": true, "count": true, "startKey": true, "attributename": false, "attributevalue": false, "space": true}); err != nil {
		return err
	}
	q := r.URL.Query()
	expand, err := boolParam(q, "expand")
	if err != nil {
		return err
	}
	l := keyList{
		table: o.products, field: "apiProduct", keyField: "name",
		missing: func(k string) error {
			return notFound("API product %s does not exist in organization %s (keymanagement.service.apiproduct_doesnot_exist)", k, o.name)
		},
	}
	denied := func(rec *record) bool { return h.spaceDenied(rec.ref) }
	switch space := q.Get("space"); {
	case q.Has("space") && space == "":
		return invalidArgument("space must name a Space, got an empty value")
	case space != "" && h.spaceDenied(space):
		return permissionDenied("apigee.apiproducts.list", "organizations/"+o.name+"/spaces/"+space)
	case space != "":
		l.keep = func(rec *record) bool { return rec.ref == space }
	case len(h.opts.DeniedSpaces) == 0:
	case h.opts.SpacesAfterCount:
		l.drop = denied
	default:
		l.keep = func(rec *record) bool { return !denied(rec) }
	}
	return h.listByKey(w, r, q, o, expand, l)
}

// spaceDenied says whether the caller may not list or get what is in
// space ("" is the organization itself, never denied here).
func (h *handler) spaceDenied(space string) bool {
	return space != "" && slices.Contains(h.opts.DeniedSpaces, space)
}

// apiProduct serves organizations/{org}/apiproducts/{name}. A product in a
// Space the caller may not read answers 403: "If the resource has the
// space attribute set, IAM permissions are checked against the Space
// resource path."
func (h *handler) apiProduct(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	if err := checkParams(r, nil); err != nil {
		return err
	}
	name := r.PathValue("product")
	o.mu.RLock()
	rec := o.products.get(name)
	o.mu.RUnlock()
	if rec == nil {
		return notFound("API product %s does not exist in organization %s", name, o.name)
	}
	if h.spaceDenied(rec.ref) {
		return permissionDenied("apigee.apiproducts.get", "organizations/"+o.name+"/spaces/"+rec.ref+"/apiproducts/"+name)
	}
	writeRecord(w, rec)
	return nil
}
