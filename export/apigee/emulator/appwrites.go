package emulator

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Changing apps while a client pages.
//
// The reference this emulator follows documents no app write methods, so
// these are Go methods of the Server rather than HTTP ones: tests call them
// (from Options.Intercept, say, before the page after page N is served) to
// delete an app or change its status in the middle of a listing, which is
// what moves apps in and out of the apps list's filters and shifts index
// page tokens (see AppsIndexTokens).

// DeleteApp deletes app appID of organization org.
func (s *Server) DeleteApp(org, appID string) error {
	o, err := s.h.orgState(org)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.apps.get(appID) == nil {
		return fmt.Errorf("emulator: organization %q has no app %q", org, appID)
	}
	o.removeApp(appID)
	return nil
}

// SetAppStatus sets the status of app appID of organization org to
// "approved" or "revoked", with a new lastModifiedAt: a revoked app leaves
// the lists with status=approved for those with status=revoked.
func (s *Server) SetAppStatus(org, appID, status string) error {
	if status != "approved" && status != "revoked" {
		return fmt.Errorf("emulator: app status %q is not approved or revoked", status)
	}
	o, err := s.h.orgState(org)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	rec := o.apps.get(appID)
	if rec == nil {
		return fmt.Errorf("emulator: organization %q has no app %q", org, appID)
	}
	a := proto.CloneOf(rec.app())
	a.Status = proto.String(status)
	a.LastModifiedAt = proto.Int64(s.h.now().UnixMilli())
	o.replaceApp(newAppRecord(a))
	return nil
}

// ExpirePageTokens makes every encoded apps page token minted so far
// invalid (AppsEncodedIndexTokens, AppsStableTokens): a request that
// carries one is refused with 400 INVALID_ARGUMENT, as a server whose
// tokens live a limited time (the reference says nothing of how long)
// refuses a token kept in a checkpoint for hours. Tokens minted afterwards
// are good until the next call. A plain index token (AppsIndexTokens, the
// default) is only a number and has no lifetime to end: tests of expiry
// use an encoded mode.
func (s *Server) ExpirePageTokens() { s.h.epoch.Add(1) }

func (h *handler) orgState(org string) (*orgState, error) {
	o := h.orgs[org]
	if o == nil {
		return nil, fmt.Errorf("emulator: no organization %q", org)
	}
	return o, nil
}
