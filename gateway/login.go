package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/storage"
)

// Login throttling: attempts per username from one address, and per
// username from anywhere, in loginWindow before Foyer refuses without
// checking the password. The first stops guessing from one place without
// letting a stranger lock a person out from elsewhere; the second bounds a
// guessing campaign spread over many addresses.
const (
	loginAttempts      = 10
	loginAttemptsTotal = 100
	loginWindow        = 15 * time.Minute
)

// loginThrottled counts a password attempt and reports whether it must be
// refused.
func (s *Server) loginThrottled(r *http.Request, connID, username string) (bool, error) {
	user := storage.HashSecret(connID + "\x00" + strings.ToLower(username))
	n, err := s.state.Hit(r.Context(), "login:"+user+":"+storage.HashSecret(s.clientIP(r)), loginWindow)
	if err != nil || n > loginAttempts {
		return err == nil, err
	}
	n, err = s.state.Hit(r.Context(), "login:"+user, loginWindow)
	return err == nil && n > loginAttemptsTotal, err
}

type chooserEntry struct{ Name, URL string }

// handleChooser lists the connectors the client may use.
func (s *Server) handleChooser(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("req")
	req, err := s.loadFlow(w, r, id)
	if err != nil {
		return
	}
	client, err := s.flowClient(r, req)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	var entries []chooserEntry
	for _, c := range s.allowedConnectors(client) {
		entries = append(entries, chooserEntry{Name: c.Name, URL: s.url("/login/" + url.PathEscape(c.ID) + "?req=" + url.QueryEscape(id))})
	}
	s.render(w, r, http.StatusOK, "chooser", "Log in", struct {
		ClientName string
		Connectors []chooserEntry
	}{clientName(client), entries})
}

func clientName(c storage.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// loginPage is the login template's data.
type loginPage struct {
	ClientName     string
	Action         string
	Req            string
	CSRF           string
	UsernamePrompt string
	Username       string
	Error          string
	Back           string
}

// handleLogin shows a password connector's form and checks it, or sends the
// browser to a callback connector's upstream.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	connID := r.PathValue("connector")
	var id string
	if r.Method == http.MethodPost {
		id = r.PostFormValue("req")
	} else {
		id = r.URL.Query().Get("req")
	}
	req, err := s.loadFlow(w, r, id)
	if err != nil {
		return
	}
	client, err := s.flowClient(r, req)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	conn, ok := s.connectors[connID]
	if !ok || !s.connectorAllowed(client, connID) {
		s.renderError(w, r, http.StatusNotFound, "Login method not available",
			"This login method is not available for this application.")
		return
	}
	if req.Step != stepLogin && req.Step != stepCallback {
		s.renderError(w, r, http.StatusBadRequest, "Login already done",
			"This login has already moved on. Go back to the application and start again.")
		return
	}
	switch impl := conn.Impl.(type) {
	case connectors.PasswordConnector:
		// When no consent page is due, the form's POST is answered by the
		// redirect to the client, which browsers hold to this page's
		// form-action.
		withFormAction(w, req.RedirectURI)
		if r.Method == http.MethodPost {
			s.passwordLogin(w, r, client, req, id, conn, impl)
			return
		}
		s.renderLogin(w, r, http.StatusOK, client, id, conn, impl, req.LoginHint, "")
	case connectors.CallbackConnector:
		s.redirectUpstream(w, r, req, id, conn, impl)
	default:
		s.renderError(w, r, http.StatusNotFound, "Login method not available", "This login method cannot be used here.")
	}
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, client storage.Client,
	id string, conn *Connector, pc connectors.PasswordConnector, username, msg string) {
	back := ""
	if len(s.allowedConnectors(client)) > 1 {
		back = s.basePath() + "/login?req=" + url.QueryEscape(id)
	}
	s.render(w, r, status, "login", "Log in", loginPage{
		ClientName:     clientName(client),
		Action:         s.url("/login/" + url.PathEscape(conn.ID)),
		Req:            id,
		CSRF:           s.mac(stepLogin, id, flowCookie(r), conn.ID),
		UsernamePrompt: pc.UsernamePrompt(),
		Username:       username,
		Error:          msg,
		Back:           back,
	})
}

// passwordLogin checks a submitted login form.
func (s *Server) passwordLogin(w http.ResponseWriter, r *http.Request, client storage.Client, req storage.AuthRequest,
	id string, conn *Connector, pc connectors.PasswordConnector) {
	ctx := r.Context()
	if !s.checkMAC(r.PostFormValue("csrf"), stepLogin, id, flowCookie(r), conn.ID) {
		s.logger.InfoContext(ctx, "login form: bad csrf token", "connector_id", conn.ID, "request_id", requestID(ctx))
		s.renderError(w, r, http.StatusForbidden, "Form expired",
			"This form is no longer valid. Go back to the application and start again.")
		return
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	if len(username) > 256 {
		username = username[:256]
	}
	if username == "" || password == "" {
		s.renderLogin(w, r, http.StatusBadRequest, client, id, conn, pc, username, "Enter your username and password.")
		return
	}
	if !validLogin(username) {
		s.renderLogin(w, r, http.StatusUnauthorized, client, id, conn, pc, "", "Incorrect username or password.")
		return
	}
	throttled, err := s.loginThrottled(r, conn.ID, username)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if throttled {
		s.logger.WarnContext(ctx, "login rate limited", "connector_id", conn.ID, "remote", s.clientIP(r))
		s.renderLogin(w, r, http.StatusTooManyRequests, client, id, conn, pc, username,
			"Too many attempts. Wait a few minutes and try again.")
		return
	}
	ident, ok, err := pc.Login(ctx, connectors.Scopes{
		OfflineAccess: hasScope(req.Scopes, scopeOfflineAccess),
		Groups:        hasScope(req.Scopes, scopeGroups),
	}, username, password)
	var refusal *connectors.Refusal
	switch {
	case errors.As(err, &refusal):
		s.metrics.logins.WithLabelValues(conn.ID, "refused").Inc()
		s.logger.InfoContext(ctx, "login refused", "connector_id", conn.ID, "reason", refusal.Detail)
		s.renderLogin(w, r, http.StatusForbidden, client, id, conn, pc, username, refusal.Reason)
		return
	case err != nil:
		s.metrics.logins.WithLabelValues(conn.ID, "error").Inc()
		s.logger.ErrorContext(ctx, "login: connector failed", "connector_id", conn.ID, "request_id", requestID(ctx), "err", err)
		s.renderLogin(w, r, http.StatusServiceUnavailable, client, id, conn, pc, username,
			"Logging in is not possible right now. Please try again in a moment.")
		return
	case !ok:
		s.metrics.logins.WithLabelValues(conn.ID, "failed").Inc()
		s.logger.InfoContext(ctx, "login failed", "connector_id", conn.ID, "remote", s.clientIP(r))
		s.renderLogin(w, r, http.StatusUnauthorized, client, id, conn, pc, username, "Incorrect username or password.")
		return
	}
	taken, ok := s.takeFlow(w, r, req)
	if !ok {
		return
	}
	taken.ConnectorID = conn.ID
	s.completeLogin(w, r, taken, id, conn, ident)
}

func hasScope(scopes []string, s string) bool {
	for _, v := range scopes {
		if v == s {
			return true
		}
	}
	return false
}
