package gateway

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/storage"
)

// redirectUpstream sends the browser to a callback connector. The state it
// carries is "<request id>.<one-time secret>"; the secret's hash becomes the
// request's step secret, so each upstream round trip can complete once.
func (s *Server) redirectUpstream(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, id string,
	conn *Connector, cc connectors.CallbackConnector) {
	ctx := r.Context()
	secret := storage.NewSecret()
	state := id + "." + secret
	scopes := connectors.Scopes{
		OfflineAccess: hasScope(req.Scopes, scopeOfflineAccess),
		Groups:        hasScope(req.Scopes, scopeGroups),
	}
	callback := s.url("/callback/" + url.PathEscape(conn.ID))
	var (
		target, action string
		fields         map[string]string
		connState      []byte
		err            error
	)
	if fc, ok := cc.(connectors.FormConnector); ok {
		action, fields, connState, err = fc.LoginForm(ctx, scopes, callback, state)
	}
	if err == nil && action == "" {
		target, connState, err = cc.LoginURL(ctx, scopes, callback, state)
	}
	if err != nil {
		s.logger.ErrorContext(ctx, "connector login url", "connector_id", conn.ID, "request_id", requestID(ctx), "err", err)
		s.renderErrorBack(w, r, http.StatusBadGateway, "Login unavailable",
			"The login service could not be reached. Please try again in a moment.", s.retryPath(conn.ID, id), "")
		return
	}
	req.Step = stepCallback
	req.StepSecret = storage.HashSecret(secret)
	req.ConnectorID = conn.ID
	req.ConnectorState = connState
	if err := s.state.UpdateAuthRequest(ctx, req); err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if action != "" {
		s.renderFormPost(w, r, action, "Continuing to "+conn.Name, sortedFields(fields))
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// resubmitField marks a callback POST that Foyer bounced once through its
// own page (see handleCallback).
const resubmitField = "foyer_resubmit"

// retryPath is the same-origin path that restarts a connector's login for a
// request.
func (s *Server) retryPath(connID, id string) string {
	return s.basePath() + "/login/" + url.PathEscape(connID) + "?req=" + url.QueryEscape(id)
}

// handleCallback is where callback connectors' upstreams send the browser
// back (/callback/{connector}).
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	connID := r.PathValue("connector")
	conn, ok := s.connectors[connID]
	cc, isCallback := connectors.CallbackConnector(nil), false
	if ok {
		cc, isCallback = conn.Impl.(connectors.CallbackConnector)
	}
	if !isCallback {
		s.renderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
		return
	}
	if r.Method == http.MethodPost && flowCookie(r) == "" {
		// An upstream POSTed here from another site (the SAML HTTP-POST
		// binding), so the browser withheld the SameSite=Lax flow cookie.
		// Bounce the same form once through a same-origin page: that POST
		// carries the cookie, and the flow stays bound to this browser.
		if err := r.ParseForm(); err != nil {
			// Too large or malformed: there is nothing to bounce.
			s.renderError(w, r, http.StatusBadRequest, "Login not valid",
				"This login response could not be read. Go back to the application and start again.")
			return
		}
		if r.PostForm.Get(resubmitField) == "" {
			f := []postField{{resubmitField, "1"}}
			for k, vs := range r.PostForm {
				for _, v := range vs {
					f = append(f, postField{k, v})
				}
			}
			s.renderFormPost(w, r, s.issuerURL.Scheme+"://"+s.issuerURL.Host+r.URL.EscapedPath(), "Continuing", f)
			return
		}
	}
	state := r.FormValue("state")
	if state == "" {
		state = r.FormValue("RelayState")
	}
	id, secret, ok := splitState(state)
	if !ok {
		s.logger.InfoContext(ctx, "callback without a valid state", "connector_id", connID, "request_id", requestID(ctx))
		s.renderError(w, r, http.StatusBadRequest, "Login not valid",
			"This login response is not one Foyer was waiting for. Go back to the application and start again.")
		return
	}
	req, err := s.loadFlow(w, r, id)
	if err != nil {
		return
	}
	if req.ConnectorID != connID || !stepSecretOK(req, stepCallback, secret) {
		s.logger.InfoContext(ctx, "callback state replayed or mismatched", "connector_id", connID, "request_id", requestID(ctx))
		s.renderErrorBack(w, r, http.StatusBadRequest, "Login not valid",
			"This login response was already used or does not match. Try logging in again.", s.retryPath(connID, id), "")
		return
	}
	ident, err := cc.HandleCallback(ctx, connectors.Scopes{
		OfflineAccess: hasScope(req.Scopes, scopeOfflineAccess),
		Groups:        hasScope(req.Scopes, scopeGroups),
	}, req.ConnectorState, r)
	if err != nil {
		s.callbackError(w, r, conn, id, err)
		return
	}
	taken, ok := s.takeFlow(w, r, req)
	if !ok {
		return
	}
	s.completeLogin(w, r, taken, id, conn, ident)
}

// callbackError shows a readable page for a failed upstream login, with
// a way to retry; the upstream's error code goes to the log.
func (s *Server) callbackError(w http.ResponseWriter, r *http.Request, conn *Connector, id string, err error) {
	ctx := r.Context()
	var up *connectors.UpstreamError
	var refusal *connectors.Refusal
	switch {
	case errors.As(err, &refusal):
		s.logger.InfoContext(ctx, "upstream login refused", "connector_id", conn.ID, "reason", refusal.Detail, "request_id", requestID(ctx))
		s.renderErrorBack(w, r, http.StatusForbidden, "Login refused", refusal.Reason, s.retryPath(conn.ID, id), "")
	case errors.As(err, &up):
		s.logger.InfoContext(ctx, "upstream returned an error", "connector_id", conn.ID, "upstream_error", up.Code, "request_id", requestID(ctx))
		s.renderErrorBack(w, r, http.StatusBadGateway, "Login did not complete",
			conn.Name+" did not complete the login.", s.retryPath(conn.ID, id), "")
	default:
		s.logger.WarnContext(ctx, "upstream login failed", "connector_id", conn.ID, "request_id", requestID(ctx), "err", err)
		s.renderErrorBack(w, r, http.StatusBadGateway, "Login did not complete",
			"The login with "+conn.Name+" could not be completed.", s.retryPath(conn.ID, id), "")
	}
}

// handleConnectorMetadata serves the document a connector publishes for its
// upstream (SAML service provider metadata).
func (s *Server) handleConnectorMetadata(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.connectors[r.PathValue("connector")]; ok {
		if mc, ok := c.Impl.(connectors.MetadataConnector); ok {
			mc.MetadataHandler().ServeHTTP(w, r)
			return
		}
	}
	s.renderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
}
