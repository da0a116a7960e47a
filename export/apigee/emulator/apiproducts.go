package emulator

import "net/http"

// apiProducts serves organizations/{org}/apiproducts: count (at most 1000,
// 400 above) and an inclusive startKey (the product name), no token, no
// total. Unlike developers, expand combines with paging by documentation.
func (h *handler) apiProducts(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	if err := checkParams(r, paramSet{"expand": true, "count": true, "startKey": true, "attributename": false, "attributevalue": false, "space": false}); err != nil {
		return err
	}
	q := r.URL.Query()
	expand, err := boolParam(q, "expand")
	if err != nil {
		return err
	}
	return h.listByKey(w, r, q, o, expand, keyList{
		table: o.products, field: "apiProduct", keyField: "name",
		missing: func(k string) error {
			return notFound("API product %s does not exist in organization %s (keymanagement.service.apiproduct_doesnot_exist)", k, o.name)
		},
	})
}

// apiProduct serves organizations/{org}/apiproducts/{name}.
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
	writeRecord(w, rec)
	return nil
}
