package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/foyerid/foyer/storage"
)

// handleLogout is the end_session_endpoint (OIDC RP-Initiated Logout 1.0).
// A request Foyer can trust — an id_token_hint it issued, for the session
// this browser has — ends the session at once; any other request asks the
// person to confirm first, so a link on a hostile page cannot log anyone
// out. post_logout_redirect_uri must be registered for the client, byte for
// byte, or nothing is redirected.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	params, err := requestParams(r)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, "Invalid request", "The logout request could not be read.")
		return
	}
	for k, v := range params {
		if len(v) > 1 {
			s.renderError(w, r, http.StatusBadRequest, "Invalid request", "Parameter "+k+" was included more than once.")
			return
		}
	}
	hint, hintOK := s.parseLogoutHint(params.Get("id_token_hint"))
	if params.Get("id_token_hint") != "" && !hintOK {
		s.logger.InfoContext(ctx, "logout: id_token_hint not valid", "request_id", requestID(ctx))
	}
	clientID := params.Get("client_id")
	if hintOK {
		if clientID != "" && clientID != hint.Aud {
			s.renderError(w, r, http.StatusBadRequest, "Invalid request", "client_id does not match the id_token_hint.")
			return
		}
		clientID = hint.Aud
	}
	if clientID != "" && !validClientID(clientID) {
		s.renderError(w, r, http.StatusBadRequest, "Invalid request", "client_id names no application.")
		return
	}
	redirect, state := params.Get("post_logout_redirect_uri"), params.Get("state")
	if len(state) > maxStateLen {
		s.renderError(w, r, http.StatusBadRequest, "Invalid request", "state is too long.")
		return
	}
	if redirect != "" {
		if clientID == "" {
			s.renderError(w, r, http.StatusBadRequest, "Invalid request",
				"post_logout_redirect_uri needs client_id or id_token_hint to say which application it belongs to.")
			return
		}
		c, err := s.dir.Client(ctx, clientID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.storeErrorPage(w, r, err)
			return
		}
		if err != nil || !slices.Contains(c.PostLogoutRedirectURIs, redirect) {
			s.logger.InfoContext(ctx, "logout: post_logout_redirect_uri not registered", "client_id", clientID)
			s.renderError(w, r, http.StatusBadRequest, "Invalid redirect",
				"The application asked to send you back to an address it has not registered. You have not been logged out.")
			return
		}
	}
	sess, hasSession, err := s.currentSession(r)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	trusted := hintOK && (!hasSession || hint.SID == sess.ID || (hint.SID == "" && hint.Sub == sess.UserID))
	confirmed := r.Method == http.MethodPost && r.PostFormValue("confirm") == "yes" &&
		s.checkMAC(r.PostFormValue("csrf"), "logout", sessionCookieValue(r), redirect, state)
	if r.Method == http.MethodPost && r.PostFormValue("confirm") != "" && !confirmed {
		s.renderError(w, r, http.StatusForbidden, "Form expired", "This form is no longer valid. Please try logging out again.")
		return
	}
	if hasSession && !trusted && !confirmed {
		s.render(w, r, http.StatusOK, "logout", "Log out?", struct {
			ClientName, UserLabel, CSRF, ClientID, Redirect, State string
		}{s.clientLabel(r, clientID), labelOf(sess.Login.Claims), s.mac("logout", sessionCookieValue(r), redirect, state), clientID, redirect, state})
		return
	}
	if hasSession {
		s.endSession(ctx, sess)
		s.logger.InfoContext(ctx, "logout", "user_id", sess.UserID, "client_id", clientID, "request_id", requestID(ctx))
	}
	s.clearSessionCookie(w)
	if redirect != "" && (trusted || confirmed) {
		target := redirect
		if state != "" {
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			target += sep + url.Values{"state": {state}}.Encode()
		}
		status := http.StatusFound
		if r.Method == http.MethodPost {
			status = http.StatusSeeOther
		}
		withFormAction(w, redirect)
		http.Redirect(w, r, target, status)
		return
	}
	s.render(w, r, http.StatusOK, "loggedout", "Logged out", nil)
}

// logoutHint is what Foyer reads from an id_token_hint.
type logoutHint struct {
	Aud string
	Sub string
	SID string
}

// parseLogoutHint verifies an ID token Foyer issued; expired is fine
// (RP-Initiated Logout §2).
func (s *Server) parseLogoutHint(token string) (logoutHint, bool) {
	if token == "" || len(token) > 16<<10 {
		return logoutHint{}, false
	}
	payload, err := s.keys.Verify(token, typIDToken)
	if err != nil {
		return logoutHint{}, false
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		SID string          `json:"sid"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Iss != s.issuer || c.Sub == "" {
		return logoutHint{}, false
	}
	var aud string
	if json.Unmarshal(c.Aud, &aud) != nil {
		var list []string
		if json.Unmarshal(c.Aud, &list) != nil || len(list) != 1 {
			return logoutHint{}, false
		}
		aud = list[0]
	}
	return logoutHint{Aud: aud, Sub: c.Sub, SID: c.SID}, true
}

func sessionCookieValue(r *http.Request) string {
	c, err := r.Cookie(sessionCookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookieName, Value: "", Path: s.cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clientLabel(r *http.Request, clientID string) string {
	if clientID == "" {
		return ""
	}
	c, err := s.dir.Client(r.Context(), clientID)
	if err != nil {
		return ""
	}
	return clientName(c)
}

// labelOf names a person on a page: email, else username, else name.
func labelOf(c storage.Claims) string {
	switch {
	case c.Email != "":
		return c.Email
	case c.Username != "":
		return c.Username
	default:
		return c.Name
	}
}
