package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
)

// startFlow decides what a valid authorization request needs: a silent
// answer from the SSO session, consent, or an interactive login.
func (s *Server) startFlow(w http.ResponseWriter, r *http.Request, client storage.Client, req storage.AuthRequest, idTokenHint string) {
	ctx := r.Context()
	now := s.now().UTC()
	fail := func(e *oauthError) {
		s.logOAuthError(r, e, "authorize refused")
		s.redirectError(w, r, req.RedirectURI, req.ResponseMode, req.State, e)
	}
	login, usable, err := s.sessionLogin(ctx, r, client, req, now)
	if err != nil {
		fail(asOAuthError(err))
		return
	}
	if slices.Contains(req.Prompt, promptNone) {
		if !usable {
			fail(errLoginRequired("The user is not logged in."))
			return
		}
		if idTokenHint != "" {
			sub, ok := s.hintSubject(idTokenHint)
			if !ok || sub != login.UserID {
				fail(errLoginRequired("The logged-in user is not the one id_token_hint names."))
				return
			}
		}
		need, err := s.needsConsent(ctx, client, req, login.UserID)
		if err != nil {
			fail(asOAuthError(err))
			return
		}
		if need {
			fail(errConsentRequired("The user has not consented to these scopes."))
			return
		}
		s.issueCode(w, r, client, req, login)
		return
	}
	selectAccount := slices.Contains(req.Prompt, promptSelectAccount)
	if usable && !selectAccount {
		s.afterLogin(w, r, client, req, "", login)
		return
	}
	binding := s.ensureFlowCookie(w, r)
	id := storage.NewSecret()
	req.ID = storage.HashSecret(id)
	req.Binding = storage.HashSecret(binding)
	req.Step = stepLogin
	req.CreatedAt = now
	req.ExpiresAt = now.Add(s.life.AuthRequest)
	if err := s.state.CreateAuthRequest(ctx, req); err != nil {
		fail(asOAuthError(err))
		return
	}
	if usable && selectAccount {
		// Let the person continue as the session's user or log in as
		// someone else.
		http.Redirect(w, r, s.url("/select-account?"+url.Values{"req": {id}}.Encode()), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, s.loginURL(client, req, id), http.StatusSeeOther)
}

// loginURL is where a fresh request goes: straight to the hinted or only
// connector, else the chooser.
func (s *Server) loginURL(client storage.Client, req storage.AuthRequest, id string) string {
	q := url.Values{"req": {id}}
	if req.ConnectorHint != "" {
		return s.url("/login/" + url.PathEscape(req.ConnectorHint) + "?" + q.Encode())
	}
	if allowed := s.allowedConnectors(client); len(allowed) == 1 {
		return s.url("/login/" + url.PathEscape(allowed[0].ID) + "?" + q.Encode())
	}
	return s.url("/login?" + q.Encode())
}

// sessionLogin returns the login of the browser's SSO session when this
// request may use it: no forced login, max_age met, the connector allowed
// for the client (and the hinted one), the user still enabled.
func (s *Server) sessionLogin(ctx context.Context, r *http.Request, client storage.Client, req storage.AuthRequest, now time.Time) (storage.Login, bool, error) {
	if slices.Contains(req.Prompt, promptLogin) {
		return storage.Login{}, false, nil
	}
	sess, ok, err := s.currentSession(r)
	if err != nil || !ok {
		return storage.Login{}, false, err
	}
	l := sess.Login
	// max_age=0 is prompt=login (OIDC Core §3.1.2.1), even within the
	// second auth_time was truncated to.
	if req.MaxAge == 0 || (req.MaxAge > 0 && now.Sub(l.AuthTime) > time.Duration(req.MaxAge)*time.Second) {
		return storage.Login{}, false, nil
	}
	if !s.connectorAllowed(client, l.ConnectorID) || (req.ConnectorHint != "" && req.ConnectorHint != l.ConnectorID) {
		return storage.Login{}, false, nil
	}
	u, err := s.dir.User(ctx, sess.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		return storage.Login{}, false, nil
	}
	if err != nil {
		return storage.Login{}, false, err
	}
	if _, err := s.state.TouchSession(ctx, sess.ID, s.life.SessionIdle); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.Login{}, false, err
	}
	l.SessionID = sess.ID
	return l, true, nil
}

// hintSubject returns the subject of an ID token Foyer issued (expired or
// not), for id_token_hint (OIDC Core §3.1.2.1).
func (s *Server) hintSubject(token string) (string, bool) {
	payload, err := s.keys.Verify(token, typIDToken)
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Iss != s.issuer || c.Sub == "" {
		return "", false
	}
	return c.Sub, true
}

// completeLogin runs after a connector vouched for a person: resolve the
// identity to a local user, start the SSO session, then consent or code.
// req has already been taken out of the store; id is its raw id.
func (s *Server) completeLogin(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, id string, conn *Connector, ident connectors.Identity) {
	ctx := r.Context()
	sealed, err := s.sealData(conn.ID, ident.Data)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	ident.Data = sealed // from here on, connector data is only ever stored sealed
	if req.Purpose == purposeLink {
		s.completeLink(w, r, req, conn, ident)
		return
	}
	client, err := s.flowClient(r, req)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			s.renderError(w, r, http.StatusBadRequest, "Unknown application", "The application you were logging in to is no longer registered.")
			return
		}
		s.storeErrorPage(w, r, err)
		return
	}
	user, err := s.linker.Resolve(ctx, conn.ID, conn.Policy, ident)
	switch {
	case errors.Is(err, identity.ErrDisabled):
		s.logger.InfoContext(ctx, "login refused: user disabled", "connector_id", conn.ID, "client_id", client.ID)
		s.renderError(w, r, http.StatusForbidden, "Account disabled", "This account is disabled. Contact your administrator.")
		return
	case errors.Is(err, identity.ErrSignupDenied):
		s.logger.InfoContext(ctx, "login refused: no linked user and signup denied", "connector_id", conn.ID, "client_id", client.ID)
		s.renderError(w, r, http.StatusForbidden, "No account",
			"There is no account for this login here. Ask your administrator to create one.")
		return
	case err != nil:
		s.storeErrorPage(w, r, err)
		return
	}
	login := storage.Login{
		UserID:        user.ID,
		Claims:        mergeClaims(user, ident),
		ConnectorID:   conn.ID,
		Subject:       ident.Subject,
		ConnectorData: ident.Data,
		AuthTime:      s.now().UTC().Truncate(time.Second),
		AMR:           amrFor(conn, ident),
	}
	sess, err := s.startSession(w, r, login)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	login.SessionID = sess.ID
	s.metrics.logins.WithLabelValues(conn.ID, "ok").Inc()
	if req.Purpose == purposeDevice {
		s.deviceConfirmStep(w, r, req, id, login)
		return
	}
	if req.Purpose == purposeAccount {
		s.logger.InfoContext(ctx, "login to the account page", "connector_id", conn.ID, "user_id", user.ID)
		http.Redirect(w, r, s.url("/account"), http.StatusSeeOther)
		return
	}
	s.logger.InfoContext(ctx, "login", "connector_id", conn.ID, "client_id", client.ID, "user_id", user.ID, "request_id", requestID(ctx))
	s.afterLogin(w, r, client, req, id, login)
}

// afterLogin asks for consent when needed, else issues the code. id is the
// raw request id when req came from the store (and has been taken out).
func (s *Server) afterLogin(w http.ResponseWriter, r *http.Request, client storage.Client, req storage.AuthRequest, id string, login storage.Login) {
	ctx := r.Context()
	need, err := s.needsConsent(ctx, client, req, login.UserID)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if !need {
		s.issueCode(w, r, client, req, login)
		return
	}
	now := s.now().UTC()
	if id == "" {
		id = storage.NewSecret()
		req.ID = storage.HashSecret(id)
		req.Binding = storage.HashSecret(s.ensureFlowCookie(w, r))
		req.CreatedAt = now
		req.ExpiresAt = now.Add(s.life.AuthRequest)
	}
	secret := storage.NewSecret()
	req.Login = &login
	req.Step = stepConsent
	req.StepSecret = storage.HashSecret(secret)
	if err := s.state.CreateAuthRequest(ctx, req); err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	q := url.Values{"req": {id}, "step": {secret}}
	http.Redirect(w, r, s.url("/consent?"+q.Encode()), http.StatusSeeOther)
}

// needsConsent: prompt=consent always asks; trusted clients skip; otherwise
// ask unless the user already granted every requested scope.
func (s *Server) needsConsent(ctx context.Context, client storage.Client, req storage.AuthRequest, userID string) (bool, error) {
	if slices.Contains(req.Prompt, promptConsent) {
		return true, nil
	}
	if client.SkipConsent {
		return false, nil
	}
	c, err := s.dir.Consent(ctx, userID, client.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, sc := range req.Scopes {
		if sc != scopeOpenID && !slices.Contains(c.Scopes, sc) {
			return true, nil
		}
	}
	return false, nil
}

// issueCode mints the authorization code and sends it to the client.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, client storage.Client, req storage.AuthRequest, login storage.Login) {
	ctx := r.Context()
	now := s.now().UTC()
	code := storage.NewSecret()
	ac := storage.AuthCode{
		ID:                  storage.HashSecret(code),
		ClientID:            client.ID,
		RedirectURI:         req.RedirectURI,
		Scopes:              req.Scopes,
		Nonce:               req.Nonce,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		Login:               login,
		GrantID:             storage.NewID(),
		CreatedAt:           now,
		ExpiresAt:           now.Add(s.life.AuthCode),
	}
	if err := s.state.CreateAuthCode(ctx, ac); err != nil {
		e := asOAuthError(err)
		s.logOAuthError(r, e, "create code")
		s.redirectError(w, r, req.RedirectURI, req.ResponseMode, req.State, e)
		return
	}
	s.noteSessionClient(ctx, login.SessionID, client.ID)
	v := url.Values{"code": {code}, "iss": {s.issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	s.respondToClient(w, r, req.RedirectURI, req.ResponseMode, v)
}

// mergeClaims: what the connector said at this login wins, so claims
// travel down a chain unchanged and an upstream change (a group removed,
// an email changed) reaches the client at the next login or refresh; the
// local user's profile fills what the connector left empty, and the local
// user's own groups (set by an administrator or the config file) are added.
func mergeClaims(u storage.User, id connectors.Identity) storage.Claims {
	c := id.Claims()
	if c.Email == "" {
		c.Email, c.EmailVerified = u.Email, u.EmailVerified
	}
	if c.Name == "" {
		c.Name = u.Name
	}
	if c.Username == "" {
		c.Username = u.Username
	}
	for _, g := range u.Groups {
		if !slices.Contains(c.Groups, g) {
			c.Groups = append(c.Groups, g)
		}
	}
	return c
}

// amrFor says how a login happened (RFC 8176): what the upstream said, else
// a password for password connectors; a federated login whose upstream
// said nothing carries no claim Foyer could vouch for.
func amrFor(c *Connector, id connectors.Identity) []string {
	if len(id.AMR) > 0 {
		return slices.Clone(id.AMR)
	}
	if _, ok := c.Impl.(connectors.PasswordConnector); ok {
		return []string{"pwd"}
	}
	return nil
}

// connectorsIdentityLocal reports whether a connector's identities are
// local users (their subject is the user id).
func connectorsIdentityLocal(c *Connector) bool { return c.Type == "local" }
