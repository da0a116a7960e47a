package emulator

import (
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// apps serves organizations/{org}/apps, the org-wide list of every app.
func (h *handler) apps(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	return h.listApps(w, r, o)
}

// listApps supports both of the API's paging styles. Token paging
// (pageSize/pageToken) answers a nextPageToken only while more apps follow
// and only when the caller asked for it with pageSize or pageToken; without
// them a page is cut at rows (default and cap 1000) and continues with an
// inclusive startKey (appId), the legacy style that silently truncates
// clients that do not page. Options.AppsPaging says what a token means
// (by default the plain decimal index, in the list as it is now, of the
// next page's first app) or whether the organization predates token
// paging. status filters by app status and
// keyStatus by the status of the app's credentials (see keyClass and
// KeylessMode); both default to approved, so revoked apps appear only with
// status=revoked and apps whose keys are all revoked only with
// keyStatus=revoked. totalSize counts the apps that match both (every app
// with Options.TotalSizeAll).
func (h *handler) listApps(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if err := checkParams(r, paramSet{
		"expand": true, "includeCred": true, "pageSize": true, "pageToken": true, "rows": true, "startKey": true, "status": true, "keyStatus": true,
		"apiProduct": false, "apptype": false, "filter": false, "ids": false,
	}); err != nil {
		return err
	}
	q := r.URL.Query()
	expand, err := boolParam(q, "expand")
	if err != nil {
		return err
	}
	withCred, err := boolParam(q, "includeCred")
	if err != nil {
		return err
	}
	status := q.Get("status")
	if status == "" {
		status = "approved"
	}
	if status != "approved" && status != "revoked" {
		return invalidArgument("status must be approved or revoked, got %q", status)
	}
	keyStatus := q.Get("keyStatus")
	if keyStatus == "" {
		keyStatus = "approved"
	}
	if keyStatus != "approved" && keyStatus != "revoked" {
		return invalidArgument("Invalid value at \"keyStatus\": keyStatus must be approved or revoked, got %q", keyStatus)
	}
	keyless := h.opts.KeylessApps
	mode := h.opts.AppsPaging
	// Before 1.10 pageSize and pageToken are not known: ignored, as an
	// unknown parameter is there, and the page is cut at rows.
	tokens := mode != AppsPre110 && (q.Has("pageSize") || q.Has("pageToken"))
	size := maxPage
	if tokens {
		if v := q.Get("pageSize"); v != "" {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 0 {
				return invalidArgument("Invalid value at \"pageSize\" (TYPE_INT32), %q", v)
			}
			if n > 0 {
				size = int(min(n, maxPage))
			}
		}
	} else if size, err = countParam(q, "rows", maxPage, maxPage, false); err != nil {
		return err
	}
	var tok pageToken
	token := tokens && q.Get("pageToken") != ""
	switch {
	case token && mode == AppsIndexTokens:
		if tok.pos, err = parseIndexToken(q.Get("pageToken")); err != nil {
			return err
		}
	case token:
		if tok, err = parsePageToken(q.Get("pageToken")); err != nil {
			return err
		}
		if e := h.epoch.Load(); tok.epoch != e {
			return invalidArgument("invalid page token %q: the page token has expired; list again from the start", q.Get("pageToken"))
		}
		if tok.status != status || tok.keyStatus != keyStatus {
			return invalidArgument("page token was made for status=%s&keyStatus=%s, not status=%s&keyStatus=%s", tok.status, tok.keyStatus, status, keyStatus)
		}
	}
	if err := h.pause(r.Context()); err != nil {
		return err
	}
	keep := func(rec *record) bool { return rec.status == status && keyless.matches(rec.keys, keyStatus) }
	o.mu.RLock()
	from, index := tok.pos, tok.pos
	if token && mode.indexed() {
		from = o.appPos(status, keyStatus, index, keep)
	}
	if k := q.Get("startKey"); k != "" && !token {
		if from = o.apps.pos(k); from < 0 {
			o.mu.RUnlock()
			return notFound("App with appId %s does not exist in organization %s (keymanagement.service.app_doesnot_exist)", k, o.name)
		}
		if tokens && mode.indexed() {
			index = o.appIndex(from, keep)
		}
	}
	rows, next, more := o.apps.scan(from, size, keep)
	if tokens && more && mode.indexed() {
		// The next page starts at the app that follows, whose index is
		// this page's plus its length; noted for that page's request.
		o.idx.put(o.version, filterKey{status, keyStatus}, index+len(rows), next)
		next = index + len(rows)
	}
	total := o.appCounts.total(status, keyStatus, keyless)
	if h.opts.TotalSizeAll {
		total = o.appCounts.all()
	}
	p := newPage("app")
	for _, rec := range rows {
		switch {
		case !expand:
			p.addKey("appId", rec.key)
		case withCred:
			p.add(h.future(rec.bytes()))
		default:
			p.add(h.future(rec.bareBytes()))
		}
	}
	o.mu.RUnlock()
	var extra []string
	switch {
	case tokens && more && mode == AppsIndexTokens:
		extra = append(extra, "nextPageToken", strconv.Quote(strconv.Itoa(next)))
	case tokens && more:
		extra = append(extra, "nextPageToken", strconv.Quote(pageToken{status: status, keyStatus: keyStatus, pos: next, epoch: h.epoch.Load()}.String()))
	}
	if total > 0 {
		extra = append(extra, "totalSize", strconv.Itoa(total))
	}
	p.send(w, extra...)
	return nil
}

// app serves organizations/{org}/apps/{appId}: one app with its credentials.
func (h *handler) app(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	if err := checkParams(r, nil); err != nil {
		return err
	}
	id := r.PathValue("app")
	o.mu.RLock()
	rec := o.apps.get(id)
	o.mu.RUnlock()
	if rec == nil {
		return notFound("App with appId %s does not exist in organization %s", id, o.name)
	}
	writeRecord(w, rec)
	return nil
}

// developerApps serves .../developers/{email}/apps: the developer's apps in
// server order, at most 100 per call, paged by inclusive startKey (the app
// name). Without expand the items carry only the appId, as on Apigee X.
func (h *handler) developerApps(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	if err := checkParams(r, paramSet{"count": true, "expand": true, "shallowExpand": true, "startKey": true}); err != nil {
		return err
	}
	q := r.URL.Query()
	expand, err := boolParam(q, "expand")
	if err != nil {
		return err
	}
	shallow, err := boolParam(q, "shallowExpand")
	if err != nil {
		return err
	}
	count, err := countParam(q, "count", maxDeveloperApps, maxPage, true)
	if err != nil {
		return err
	}
	count = min(count, maxDeveloperApps)
	if err := h.pause(r.Context()); err != nil {
		return err
	}
	id := r.PathValue("email")
	o.mu.RLock()
	dev := findDeveloper(o, id)
	if dev == nil {
		o.mu.RUnlock()
		return developerNotFound(o, id)
	}
	var apps []*apigeepb.App
	for _, rec := range o.apps.rows {
		if rec != nil && rec.ref == dev.key {
			apps = append(apps, rec.app())
		}
	}
	o.mu.RUnlock()
	start := 0
	if k := q.Get("startKey"); k != "" {
		start = -1
		for i, a := range apps {
			if a.GetName() == k {
				start = i
				break
			}
		}
		if start < 0 {
			return notFound("App named %s does not exist for developer %s (developer.service.AppDoesNotExist)", k, dev.key)
		}
	}
	apps = apps[start:min(len(apps), start+count)]
	p := newPage("app")
	for _, a := range apps {
		switch {
		case expand || shallow:
			da := toDeveloperApp(a)
			if !expand {
				da.Credentials = nil
			}
			p.add(render(a.GetAppId(), da))
		default:
			p.addKey("appId", a.GetAppId())
		}
	}
	p.send(w)
	return nil
}

// developerApp serves .../developers/{email}/apps/{name}.
func (h *handler) developerApp(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	if err := checkParams(r, nil); err != nil {
		return err
	}
	id, name := r.PathValue("email"), r.PathValue("app")
	o.mu.RLock()
	dev := findDeveloper(o, id)
	var app *apigeepb.App
	if dev != nil {
		for _, rec := range o.apps.rows {
			if rec != nil && rec.ref == dev.key {
				if a := rec.app(); a.GetName() == name {
					app = a
					break
				}
			}
		}
	}
	o.mu.RUnlock()
	if dev == nil {
		return developerNotFound(o, id)
	}
	if app == nil {
		return notFound("App named %s does not exist for developer %s", name, dev.key)
	}
	return writeProto(w, http.StatusOK, toDeveloperApp(app))
}

// toDeveloperApp shows an org app in the developer-scoped shape: product
// names instead of product references, no developer email or app group.
func toDeveloperApp(a *apigeepb.App) *apigeepb.DeveloperApp {
	d := &apigeepb.DeveloperApp{
		AppId:          a.AppId,
		Attributes:     a.Attributes,
		CallbackUrl:    a.CallbackUrl,
		CreatedAt:      a.CreatedAt,
		Credentials:    a.Credentials,
		DeveloperId:    a.DeveloperId,
		KeyExpiresIn:   a.KeyExpiresIn,
		LastModifiedAt: a.LastModifiedAt,
		Name:           a.Name,
		Scopes:         a.Scopes,
		Status:         a.Status,
	}
	for _, p := range a.ApiProducts {
		d.ApiProducts = append(d.ApiProducts, p.GetApiproduct())
	}
	return proto.CloneOf(d)
}
