package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/foyerid/foyer/storage"
)

// grantDevice is the device's poll (RFC 8628 §3.4, §3.5): pending, slow
// down, denied, expired, or — once, atomically — the tokens.
func (s *Server) grantDevice(r *http.Request, client storage.Client, form url.Values) (*tokenResponse, error) {
	ctx := r.Context()
	code := form.Get("device_code")
	if code == "" || len(code) > 128 {
		return nil, errInvalidRequest("device_code is required.")
	}
	hash := storage.HashSecret(code)
	// More than one poll within an interval is too fast (§3.5).
	n, err := s.state.Hit(ctx, "device-poll:"+hash, deviceInterval*time.Second)
	if err != nil {
		return nil, err
	}
	if n > 1 {
		return nil, errSlowDown()
	}
	d, err := s.state.ClaimDeviceCode(ctx, hash)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, errExpiredToken()
	case errors.Is(err, storage.ErrAlreadyUsed):
		return nil, errInvalidGrant("The device code was already used.")
	case err != nil:
		return nil, err
	}
	if d.ClientID != client.ID {
		// A pending code is left as it was. An approved one was claimed
		// by this call and is spent: only the device that asked for it
		// knows the device code, so another client presenting it has
		// stolen it, and the device must start again.
		return nil, errInvalidGrant("The device code was issued to another client.")
	}
	switch d.Status {
	case storage.DevicePending:
		return nil, errAuthorizationPending()
	case storage.DeviceDenied:
		return nil, errAccessDenied("The person denied the device.")
	}
	if d.Login == nil {
		return nil, errInvalidGrant("The device code is not valid.")
	}
	if err := s.checkLogin(r, client, *d.Login); err != nil {
		return nil, err
	}
	// No browser session backs a device: its grant stands alone.
	g, refresh := s.newGrant(client, storage.NewID(), d.Scopes, *d.Login, true)
	if err := s.state.CreateGrant(ctx, g); err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "device authorized", "client_id", client.ID, "user_id", g.Login.UserID)
	return s.mint(ctx, client, g, d.Scopes, "", refresh)
}
