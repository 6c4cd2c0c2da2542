package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/foyerid/foyer/storage"
)

// The browser flow is a state machine over the stored auth request:
//
//	/authorize ──► login (chooser, password form or upstream) ──► consent ──► code
//
// The request id in URLs is only a handle. Every step also needs:
//   - the flow cookie of the browser that started the request (its hash is
//     the request's Binding), so a leaked id is useless in another browser;
//   - on forms, a CSRF token: an HMAC over the step, the request id and the
//     flow cookie;
//   - for steps after login (consent, callback), a one-time step secret
//     whose hash is the request's StepSecret, replaced at each transition.
//
// Completing a step takes the request out of the store atomically
// (TakeAuthRequest), so each request yields at most one code.

// Flow steps.
const (
	stepLogin    = "login"
	stepCallback = "callback"
	stepConsent  = "consent"
)

const (
	flowCookieName    = "foyer_flow"
	sessionCookieName = "foyer_session"
)

// flowCookie returns the browser's flow secret, or "".
func flowCookie(r *http.Request) string {
	c, err := r.Cookie(flowCookieName)
	if err != nil || len(c.Value) < 32 || len(c.Value) > 64 {
		return ""
	}
	return c.Value
}

// ensureFlowCookie returns the browser's flow secret, setting a new one if
// it has none. One cookie serves all of a browser's concurrent flows.
func (s *Server) ensureFlowCookie(w http.ResponseWriter, r *http.Request) string {
	if v := flowCookie(r); v != "" {
		return v
	}
	v := storage.NewSecret()
	http.SetCookie(w, &http.Cookie{
		Name: flowCookieName, Value: v, Path: s.cookiePath,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	return v
}

// mac is the HMAC that binds a form or link to its step.
func (s *Server) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.flowKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) checkMAC(got string, parts ...string) bool {
	want := s.mac(parts...)
	return hmac.Equal([]byte(got), []byte(want))
}

// errFlowGone marks a request that is missing, expired or not this
// browser's; the page has been written.
var errFlowGone = errors.New("gateway: flow gone")

// loadFlow loads the auth request named by id and checks that this browser
// started it. On failure it writes a page and returns errFlowGone (or the
// store's error after writing a 503 page).
func (s *Server) loadFlow(w http.ResponseWriter, r *http.Request, id string) (storage.AuthRequest, error) {
	if id == "" || len(id) > 64 {
		s.renderError(w, r, http.StatusBadRequest, "Login link not valid",
			"This login link is incomplete. Go back to the application and start again.")
		return storage.AuthRequest{}, errFlowGone
	}
	req, err := s.state.AuthRequest(r.Context(), storage.HashSecret(id))
	if errors.Is(err, storage.ErrNotFound) {
		s.renderError(w, r, http.StatusBadRequest, "Login expired",
			"This login has expired or was already used. Go back to the application and start again.")
		return storage.AuthRequest{}, errFlowGone
	}
	if err != nil {
		s.storeErrorPage(w, r, err)
		return storage.AuthRequest{}, err
	}
	cookie := flowCookie(r)
	if cookie == "" || !hmac.Equal([]byte(storage.HashSecret(cookie)), []byte(req.Binding)) {
		s.logger.InfoContext(r.Context(), "flow used from another browser", "request_id", requestID(r.Context()), "client_id", req.ClientID)
		s.renderError(w, r, http.StatusBadRequest, "Login not valid here",
			"This login was started in another browser or its cookies were cleared. Go back to the application and start again.")
		return storage.AuthRequest{}, errFlowGone
	}
	return req, nil
}

// storeErrorPage answers a store failure: 503 when the store is
// unreachable, 500 otherwise; the detail goes to the log.
func (s *Server) storeErrorPage(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, storage.ErrNotFound) {
		// Something the flow relies on (its client, its user) went away
		// while the person was on the page.
		s.logger.InfoContext(r.Context(), "flow record gone", "request_id", requestID(r.Context()), "err", err)
		s.renderError(w, r, http.StatusBadRequest, "Login cannot continue",
			"Something this login relies on no longer exists. Go back to the application and start again.")
		return
	}
	e := asOAuthError(err)
	s.logOAuthError(r, e, "store error")
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
		s.renderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"The service is temporarily unavailable. Please try again in a moment.")
		return
	}
	s.renderError(w, r, http.StatusInternalServerError, "Something went wrong",
		"The server met an unexpected condition. Please try again.")
}

// stepSecretOK checks a presented step secret against the request's.
func stepSecretOK(req storage.AuthRequest, step, secret string) bool {
	if req.Step != step || secret == "" || req.StepSecret == "" || len(secret) > 64 {
		return false
	}
	return hmac.Equal([]byte(storage.HashSecret(secret)), []byte(req.StepSecret))
}

// splitState splits "<request id>.<step secret>" (the state Foyer sends
// upstream).
func splitState(state string) (id, secret string, ok bool) {
	id, secret, ok = strings.Cut(state, ".")
	return id, secret, ok && id != "" && secret != ""
}

// takeFlow takes req out of the store for the step that completes it, so
// that each request completes once. A request that expired, that someone
// else took, or whose step moved on meanwhile gets a page and false.
func (s *Server) takeFlow(w http.ResponseWriter, r *http.Request, req storage.AuthRequest) (storage.AuthRequest, bool) {
	taken, err := s.state.TakeAuthRequest(r.Context(), req.ID)
	if errors.Is(err, storage.ErrNotFound) {
		s.renderError(w, r, http.StatusBadRequest, "Login expired",
			"This login has expired or was already used. Go back to the application and start again.")
		return storage.AuthRequest{}, false
	}
	if err != nil {
		s.storeErrorPage(w, r, err)
		return storage.AuthRequest{}, false
	}
	if taken.Step != req.Step || taken.StepSecret != req.StepSecret {
		s.renderError(w, r, http.StatusBadRequest, "Login not valid", "This step of the login was already completed.")
		return storage.AuthRequest{}, false
	}
	return taken, true
}
