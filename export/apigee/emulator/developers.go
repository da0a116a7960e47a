package emulator

import (
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

const (
	// maxAttributes is Apigee's custom attribute limit per entity.
	maxAttributes = 18
	// maxDeveloperApps is how many app names developers.get returns, and how
	// many apps developers.apps.list returns per call.
	maxDeveloperApps = 100
	// maxBody bounds request bodies; a developer is a few kilobytes.
	maxBody = 1 << 20
)

// developers serves organizations/{org}/developers: list and create.
func (h *handler) developers(w http.ResponseWriter, r *http.Request, o *orgState) error {
	switch r.Method {
	case http.MethodGet:
		return h.listDevelopers(w, r, o)
	case http.MethodPost:
		return h.createDeveloper(w, r, o)
	}
	return methodNotAllowed(r)
}

// listDevelopers pages with count and an inclusive startKey (the email the
// page starts with), with no token and no total: the API gives neither. It
// accepts expand together with count/startKey although the reference says
// that combination is not valid, because widely used clients send it
// (Options.DeveloperExpand makes it behave as documented instead). Company
// developers (those with companies) are left out unless includeCompany=true:
// "By default, the response does not include company developers".
func (h *handler) listDevelopers(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if err := checkParams(r, paramSet{"expand": true, "count": true, "startKey": true, "includeCompany": true, "app": false, "ids": false}); err != nil {
		return err
	}
	q := r.URL.Query()
	expand, err := boolParam(q, "expand")
	if err != nil {
		return err
	}
	withCompany, err := boolParam(q, "includeCompany")
	if err != nil {
		return err
	}
	if expand {
		if expand, err = h.opts.DeveloperExpand.expands(q); err != nil {
			return err
		}
	}
	if h.opts.StartKeyNeedsCount && !q.Has("count") {
		q.Del("startKey") // the list's first page, whatever the key
	}
	l := keyList{
		table: o.devs, field: "developer", keyField: "email",
		missing: func(k string) error {
			return notFound("DeveloperId %s does not exist in organization %s (keymanagement.service.developer_doesnot_exist)", k, o.name)
		},
	}
	if !withCompany {
		l.keep = func(rec *record) bool { return !rec.company }
	}
	return h.listByKey(w, r, q, o, expand, l)
}

// decodeBody reads a protojson request body. Unknown fields are refused, as
// Google's front end does ("Unknown name"), so client typos surface.
func decodeBody(w http.ResponseWriter, r *http.Request, m proto.Message) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return invalidArgument("reading the request body: %v", err)
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		return invalidArgument("Invalid JSON payload received. %v", err)
	}
	return nil
}

// checkDeveloper enforces what create and update require.
func checkDeveloper(d *apigeepb.Developer) error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"email", d.GetEmail()}, {"firstName", d.GetFirstName()}, {"lastName", d.GetLastName()}, {"userName", d.GetUserName()},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return invalidArgument("developer is missing required fields: %s", strings.Join(missing, ", "))
	}
	if e := d.GetEmail(); e != strings.ToLower(e) {
		return invalidArgument("email %q must be lowercase", e)
	}
	return checkAttributes(d.GetAttributes())
}

func checkAttributes(as []*apigeepb.Attribute) error {
	if len(as) > maxAttributes {
		return invalidArgument("%d custom attributes; the limit is %d", len(as), maxAttributes)
	}
	for i, a := range as {
		if a.GetName() == "" {
			return invalidArgument("attribute %d has no name", i)
		}
	}
	return nil
}

// createDeveloper stores a new, active developer with server-set ids and
// times; output-only fields in the body are ignored, as the API does.
func (h *handler) createDeveloper(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if err := checkParams(r, nil); err != nil {
		return err
	}
	in := &apigeepb.Developer{}
	if err := decodeBody(w, r, in); err != nil {
		return err
	}
	if err := checkDeveloper(in); err != nil {
		return err
	}
	now := h.now().UnixMilli()
	d := &apigeepb.Developer{
		AccessType:       in.AccessType,
		AppFamily:        in.AppFamily,
		Attributes:       in.Attributes,
		Companies:        in.Companies,
		CreatedAt:        proto.Int64(now),
		DeveloperId:      proto.String(h.newUUID()),
		Email:            in.Email,
		FirstName:        in.FirstName,
		LastModifiedAt:   proto.Int64(now),
		LastName:         in.LastName,
		OrganizationName: proto.String(o.name),
		Status:           proto.String("active"),
		UserName:         in.UserName,
	}
	o.mu.Lock()
	err := o.devs.add(newDeveloperRecord(d))
	o.mu.Unlock()
	if err != nil {
		return alreadyExists("developer %s already exists in organization %s", d.GetEmail(), o.name)
	}
	return writeProto(w, http.StatusCreated, d)
}

// findDeveloper resolves {email}: the email as given, then lowercased, then
// as a developerId (setDeveloperStatus documents the id form). Call with
// o.mu held.
func findDeveloper(o *orgState, id string) *record {
	if r := o.devs.get(id); r != nil {
		return r
	}
	if r := o.devs.get(strings.ToLower(id)); r != nil {
		return r
	}
	for _, r := range o.devs.rows {
		if r != nil && r.ref == id {
			return r
		}
	}
	return nil
}

func developerNotFound(o *orgState, id string) error {
	return notFound("DeveloperId %s does not exist in organization %s", id, o.name)
}

// developer serves organizations/{org}/developers/{email}.
func (h *handler) developer(w http.ResponseWriter, r *http.Request, o *orgState) error {
	switch r.Method {
	case http.MethodGet:
		return h.getDeveloper(w, r, o)
	case http.MethodPut:
		return h.updateDeveloper(w, r, o)
	case http.MethodDelete:
		return h.deleteDeveloper(w, r, o)
	case http.MethodPost:
		return h.setDeveloperStatus(w, r, o)
	}
	return methodNotAllowed(r)
}

// capApps trims a developer's app names to what developers.get returns.
func capApps(d *apigeepb.Developer) *apigeepb.Developer {
	if len(d.Apps) <= maxDeveloperApps {
		return d
	}
	c := proto.CloneOf(d)
	c.Apps = c.Apps[:maxDeveloperApps]
	return c
}

// getDeveloper answers developers.get: the developer as the expanded list
// shows it (with Options.FutureFields' additions too, since a client may
// read every developer this way: see ExpandMode), but with only the first
// 100 app names, as the reference says of get.
func (h *handler) getDeveloper(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if err := checkParams(r, paramSet{"action": true}); err != nil {
		return err
	}
	id := r.PathValue("email")
	o.mu.RLock()
	rec := findDeveloper(o, id)
	o.mu.RUnlock()
	if rec == nil {
		return developerNotFound(o, id)
	}
	b := rec.bytes()
	if d := rec.developer(); len(d.Apps) > maxDeveloperApps {
		b = render("response", capApps(d))
	}
	b = h.future(b)
	writeBody(w, http.StatusOK, append(append(make([]byte, 0, len(b)+1), b...), '\n'))
	return nil
}

// updateDeveloper replaces the mutable fields; ids, email, status, apps and
// creation time stay.
func (h *handler) updateDeveloper(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if err := checkParams(r, nil); err != nil {
		return err
	}
	in := &apigeepb.Developer{}
	if err := decodeBody(w, r, in); err != nil {
		return err
	}
	d, err := h.changeDeveloper(o, r.PathValue("email"), func(d *apigeepb.Developer) error {
		if in.Email == nil {
			in.Email = d.Email
		}
		if in.GetEmail() != d.GetEmail() {
			return invalidArgument("the emulator cannot change a developer's email (%s to %s)", d.GetEmail(), in.GetEmail())
		}
		if err := checkDeveloper(in); err != nil {
			return err
		}
		d.AccessType, d.AppFamily, d.Attributes, d.Companies = in.AccessType, in.AppFamily, in.Attributes, in.Companies
		d.FirstName, d.LastName, d.UserName = in.FirstName, in.LastName, in.UserName
		return nil
	})
	if err != nil {
		return err
	}
	return writeProto(w, http.StatusOK, capApps(d))
}

// changeDeveloper stores a changed copy of developer id with a new
// lastModifiedAt: change edits the copy, or refuses with an error and
// nothing is stored. Stored records are never modified (their rendering is
// cached), so a change replaces the record.
func (h *handler) changeDeveloper(o *orgState, id string, change func(d *apigeepb.Developer) error) (*apigeepb.Developer, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	rec := findDeveloper(o, id)
	if rec == nil {
		return nil, developerNotFound(o, id)
	}
	d := proto.CloneOf(rec.developer())
	if err := change(d); err != nil {
		return nil, err
	}
	d.LastModifiedAt = proto.Int64(h.now().UnixMilli())
	o.devs.replace(newDeveloperRecord(d))
	return d, nil
}

// deleteDeveloper removes the developer with its apps and their keys, and
// returns the deleted developer. Apigee does the cascade asynchronously; the
// emulator does it at once, which is what a client may observe eventually.
func (h *handler) deleteDeveloper(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if err := checkParams(r, nil); err != nil {
		return err
	}
	id := r.PathValue("email")
	o.mu.Lock()
	rec := findDeveloper(o, id)
	if rec == nil {
		o.mu.Unlock()
		return developerNotFound(o, id)
	}
	o.devs.remove(rec.key)
	var apps []string
	for _, a := range o.apps.rows {
		if a != nil && a.ref == rec.key {
			apps = append(apps, a.key)
		}
	}
	for _, k := range apps {
		o.removeApp(k)
	}
	o.mu.Unlock()
	return writeProto(w, http.StatusOK, capApps(rec.developer()))
}

// setDeveloperStatus is POST .../developers/{email}?action=active|inactive
// with an application/octet-stream content type and no body, answering 204.
func (h *handler) setDeveloperStatus(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if err := checkParams(r, paramSet{"action": true}); err != nil {
		return err
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/octet-stream" {
		return invalidArgument("setting a developer's status needs Content-Type: application/octet-stream, got %q", ct)
	}
	action := r.URL.Query().Get("action")
	if action != "active" && action != "inactive" {
		return invalidArgument("action must be active or inactive, got %q", action)
	}
	_, err := h.changeDeveloper(o, r.PathValue("email"), func(d *apigeepb.Developer) error {
		d.Status = proto.String(action)
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// developerAttributes serves .../developers/{email}/attributes: GET lists,
// POST replaces them all (the API has no partial update here).
func (h *handler) developerAttributes(w http.ResponseWriter, r *http.Request, o *orgState) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed(r)
	}
	if err := checkParams(r, nil); err != nil {
		return err
	}
	id := r.PathValue("email")
	if r.Method == http.MethodGet {
		o.mu.RLock()
		rec := findDeveloper(o, id)
		o.mu.RUnlock()
		if rec == nil {
			return developerNotFound(o, id)
		}
		return writeProto(w, http.StatusOK, &apigeepb.Attributes{Attribute: rec.developer().Attributes})
	}
	in := &apigeepb.Attributes{}
	if err := decodeBody(w, r, in); err != nil {
		return err
	}
	if err := checkAttributes(in.Attribute); err != nil {
		return err
	}
	d, err := h.changeDeveloper(o, id, func(d *apigeepb.Developer) error {
		d.Attributes = in.Attribute
		return nil
	})
	if err != nil {
		return err
	}
	return writeProto(w, http.StatusOK, &apigeepb.Attributes{Attribute: d.Attributes})
}

// randomUUID makes a version 4 UUID for ids the server assigns.
func randomUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
