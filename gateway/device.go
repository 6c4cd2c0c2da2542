package gateway

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/foyerid/foyer/storage"
)

// The device authorization grant (RFC 8628): a device without a browser
// asks /device/code for a device code and a short user code; the person
// enters the user code at /device in any browser, logs in and approves; the
// device polls /token until then.

const (
	grantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
	purposeDevice   = "device"
	stepDevice      = "device"

	deviceCodeTTL  = 10 * time.Minute
	deviceInterval = 5 // seconds between polls (§3.2)

	// userCodeAlphabet has no vowels (no words) and no look-alikes (§6.1).
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8

	// Attempts at entering a code, per address, in deviceEntryWindow.
	deviceEntries     = 20
	deviceEntryWindow = 15 * time.Minute
)

// Errors of RFC 8628 §3.5.
func errAuthorizationPending() *oauthError {
	return newOAuthError("authorization_pending", http.StatusBadRequest, "The person has not approved the device yet.")
}
func errSlowDown() *oauthError {
	return newOAuthError("slow_down", http.StatusBadRequest, "Polling too fast; wait 5 more seconds between polls.")
}
func errExpiredToken() *oauthError {
	return newOAuthError("expired_token", http.StatusBadRequest, "The device code has expired; start again.")
}

// newUserCode is 8 letters of userCodeAlphabet (about 34 bits; guessing is
// throttled per address and bounded by the code's lifetime).
func newUserCode() string {
	b := make([]byte, userCodeLen)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(b)
}

// normalizeUserCode accepts what a person types: any case, with dashes or
// spaces.
func normalizeUserCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func formatUserCode(c string) string {
	if len(c) != userCodeLen {
		return c
	}
	return c[:4] + "-" + c[4:]
}

// handleDeviceAuthorization is the device authorization endpoint (§3.1).
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	form, client, ok := s.clientForm(w, r)
	if !ok {
		return
	}
	if !grantAllowed(client, grantDeviceCode) {
		s.writeJSONError(w, r, errUnauthorizedClient("This client may not use the device authorization grant."))
		return
	}
	scopes, oerr := parseScopes(form.Get("scope"))
	if oerr != nil {
		s.writeJSONError(w, r, oerr)
		return
	}
	if !grantAllowed(client, grantRefreshToken) {
		scopes = dropScope(scopes, scopeOfflineAccess)
	}
	now := s.now().UTC()
	deviceCode := storage.NewSecret()
	d := storage.DeviceRequest{
		ID: storage.HashSecret(deviceCode), ClientID: client.ID, Scopes: scopes,
		Status: storage.DevicePending, Interval: deviceInterval,
		CreatedAt: now, ExpiresAt: now.Add(deviceCodeTTL),
	}
	var err error
	for range 3 {
		d.UserCode = newUserCode()
		if err = s.state.CreateDeviceRequest(r.Context(), d); !errors.Is(err, storage.ErrConflict) {
			break
		}
	}
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	verify := s.url("/device")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"device_code":               deviceCode,
		"user_code":                 formatUserCode(d.UserCode),
		"verification_uri":          verify,
		"verification_uri_complete": verify + "?" + url.Values{"user_code": {formatUserCode(d.UserCode)}}.Encode(),
		"expires_in":                int(deviceCodeTTL / time.Second),
		"interval":                  deviceInterval,
	})
}

func dropScope(scopes []string, drop string) []string {
	out := scopes[:0:0]
	for _, s := range scopes {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

type devicePage struct {
	Code, CSRF, Error string
}

// handleDevice is the verification page (§3.3): the person enters the
// user code, logs in (or uses their session) and is asked to approve.
func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	flow := s.ensureFlowCookie(w, r)
	page := devicePage{CSRF: s.mac("device", flow)}
	if r.Method == http.MethodGet {
		page.Code = r.URL.Query().Get("user_code")
		if len(page.Code) > 32 {
			page.Code = ""
		}
		s.render(w, r, http.StatusOK, "device", "Connect a device", page)
		return
	}
	if !s.checkMAC(r.PostFormValue("csrf"), "device", flowCookie(r)) {
		s.renderErrorBack(w, r, http.StatusForbidden, "Form expired", "This form is no longer valid.", s.basePath()+"/device", "")
		return
	}
	page.Code = r.PostFormValue("user_code")
	if len(page.Code) > 32 {
		page.Code = page.Code[:32]
	}
	n, err := s.state.Hit(ctx, "device-entry:"+storage.HashSecret(s.clientIP(r)), deviceEntryWindow)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if n > deviceEntries {
		page.Error = "Too many attempts. Wait a few minutes and try again."
		s.render(w, r, http.StatusTooManyRequests, "device", "Connect a device", page)
		return
	}
	code := normalizeUserCode(page.Code)
	d, err := s.state.DeviceRequestByUserCode(ctx, code)
	if err == nil && d.Status != storage.DevicePending {
		err = storage.ErrNotFound
	}
	if errors.Is(err, storage.ErrNotFound) || len(code) != userCodeLen {
		page.Error = "That code is not valid or has expired. Check the code on your device."
		s.render(w, r, http.StatusBadRequest, "device", "Connect a device", page)
		return
	}
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	client, err := s.dir.Client(ctx, d.ClientID)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	req := storage.AuthRequest{
		ClientID: client.ID, Scopes: d.Scopes, Purpose: purposeDevice, DeviceUserCode: code, MaxAge: -1,
	}
	login, usable, err := s.sessionLogin(ctx, r, client, req, s.now().UTC())
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if usable {
		s.deviceConfirmStep(w, r, req, "", login)
		return
	}
	s.startSelfFlow(w, r, req, "")
}

// deviceConfirmStep stores the request at the approval step and sends the
// browser to it. id is the request's raw id, or "" for a new request.
func (s *Server) deviceConfirmStep(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, id string, login storage.Login) {
	now := s.now().UTC()
	if id == "" {
		id = storage.NewSecret()
		req.ID = storage.HashSecret(id)
		req.Binding = storage.HashSecret(s.ensureFlowCookie(w, r))
		req.CreatedAt = now
		req.ExpiresAt = now.Add(s.life.AuthRequest)
	}
	secret := storage.NewSecret()
	login.SessionID = "" // the device's tokens do not end with this browser's session
	req.Login = &login
	req.Step = stepDevice
	req.StepSecret = storage.HashSecret(secret)
	if err := s.state.CreateAuthRequest(r.Context(), req); err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	http.Redirect(w, r, s.url("/device/confirm?"+url.Values{"req": {id}, "step": {secret}}.Encode()), http.StatusSeeOther)
}

// handleDeviceConfirm asks the person to approve the device (GET) and
// records the answer (POST).
func (s *Server) handleDeviceConfirm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var id, secret string
	if r.Method == http.MethodPost {
		id, secret = r.PostFormValue("req"), r.PostFormValue("step")
	} else {
		id, secret = r.URL.Query().Get("req"), r.URL.Query().Get("step")
	}
	req, err := s.loadFlow(w, r, id)
	if err != nil {
		return
	}
	if req.Purpose != purposeDevice || req.Login == nil || !stepSecretOK(req, stepDevice, secret) {
		s.renderError(w, r, http.StatusBadRequest, "Link not valid", "This page is not valid. Enter the code from your device again.")
		return
	}
	client, err := s.dir.Client(ctx, req.ClientID)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if r.Method == http.MethodGet {
		words := describeScopes(req.Scopes)
		s.render(w, r, http.StatusOK, "deviceconfirm", "Connect this device?", struct {
			ClientName, UserLabel, Code, Req, Step, CSRF, Action string
			Scopes                                               []string
		}{clientName(client), labelOf(req.Login.Claims), formatUserCode(req.DeviceUserCode), id, secret,
			s.mac(stepDevice, id, flowCookie(r)), s.url("/device/confirm"), words})
		return
	}
	if !s.checkMAC(r.PostFormValue("csrf"), stepDevice, id, flowCookie(r)) {
		s.renderError(w, r, http.StatusForbidden, "Form expired", "This form is no longer valid. Enter the code from your device again.")
		return
	}
	taken, ok := s.takeFlow(w, r, req)
	if !ok {
		return
	}
	d, err := s.state.DeviceRequestByUserCode(ctx, taken.DeviceUserCode)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (d.Status != storage.DevicePending || d.ClientID != taken.ClientID)) {
		s.renderError(w, r, http.StatusBadRequest, "Code expired", "The code from your device has expired or was already used. Start again on the device.")
		return
	}
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if r.PostFormValue("decision") != "allow" {
		d.Status = storage.DeviceDenied
	} else {
		d.Status = storage.DeviceApproved
		d.Login = taken.Login
	}
	if err := s.state.UpdateDeviceRequest(ctx, d); err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	s.logger.InfoContext(ctx, "device "+d.Status, "client_id", d.ClientID, "user_id", taken.Login.UserID)
	if d.Status == storage.DeviceDenied {
		s.render(w, r, http.StatusOK, "message", "Device not connected", "You denied access. The device will not be connected.")
		return
	}
	s.render(w, r, http.StatusOK, "message", "Device connected", "Your device is connected. You can close this window and return to it.")
}
