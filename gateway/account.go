package gateway

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/storage"
)

// Purposes of an auth request that no client started.
const (
	purposeAccount = "account" // log in to the account page
	purposeLink    = "link"    // add a login method to the current account
)

// accountClient stands in for a client in flows Foyer starts for itself:
// every connector is allowed, nothing is remembered as consent.
var accountClient = storage.Client{Name: "your account"}

// flowClient is the client of an auth request, or accountClient for the
// account page's own flows.
func (s *Server) flowClient(r *http.Request, req storage.AuthRequest) (storage.Client, error) {
	if req.Purpose == purposeAccount || req.Purpose == purposeLink {
		return accountClient, nil
	}
	return s.dir.Client(r.Context(), req.ClientID)
}

type accountIdentity struct {
	ConnectorID, ConnectorName, Subject, Label, LinkedAt, LastUsedAt string
	CanRemove                                                        bool
}

type accountSession struct {
	SID, Started, LastSeen, Via string
	Current                     bool
	Clients                     []string
}

type accountPage struct {
	User        storage.User
	HasPassword bool
	Identities  []accountIdentity
	Linkable    []*Connector
	Sessions    []accountSession
	CSRF        string
	LogoutCSRF  string
	Notice      string
	Error       string
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// accountNotices are the messages /account may show after a redirect.
var accountNotices = map[string]string{
	"linked":   "The login method was added to your account.",
	"unlinked": "The login method was removed from your account.",
	"revoked":  "The session was ended.",
}

// handleAccount shows the person's account: profile, login methods, and
// sessions, with the forms that change them.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, ok, err := s.currentSession(r)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if !ok {
		s.render(w, r, http.StatusOK, "account", "Your account", accountPage{})
		return
	}
	user, err := s.dir.User(ctx, sess.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && user.Disabled) {
		s.endSession(ctx, sess)
		s.clearSessionCookie(w)
		s.renderError(w, r, http.StatusForbidden, "Account not available", "This account no longer exists or is disabled.")
		return
	}
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	ids, err := s.dir.IdentitiesByUser(ctx, user.ID)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	sessions, err := s.state.SessionsByUser(ctx, user.ID)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	page := accountPage{
		User:        user,
		HasPassword: user.PasswordHash != "" && s.hasLocalConnector(),
		CSRF:        s.mac("account", sessionCookieValue(r)),
		LogoutCSRF:  s.mac("logout", sessionCookieValue(r), "", ""),
		Notice:      accountNotices[r.URL.Query().Get("done")],
	}
	ways := len(ids)
	if page.HasPassword {
		ways++
	}
	linked := map[string]bool{}
	for _, i := range ids {
		linked[i.ConnectorID] = true
		page.Identities = append(page.Identities, accountIdentity{
			ConnectorID: i.ConnectorID, ConnectorName: s.connectorName(i.ConnectorID), Subject: i.Subject,
			Label: labelOf(i.Claims), LinkedAt: fmtTime(i.LinkedAt), LastUsedAt: fmtTime(i.LastUsedAt),
			CanRemove: ways > 1,
		})
	}
	for _, id := range s.connectorOrder {
		c := s.connectors[id]
		if !linked[id] && c.Type != "local" {
			page.Linkable = append(page.Linkable, c)
		}
	}
	slices.SortFunc(sessions, func(a, b storage.Session) int { return b.LastSeenAt.Compare(a.LastSeenAt) })
	for _, ss := range sessions {
		page.Sessions = append(page.Sessions, accountSession{
			SID: ss.ID, Started: fmtTime(ss.Login.AuthTime), LastSeen: fmtTime(ss.LastSeenAt),
			Via: s.connectorName(ss.Login.ConnectorID), Current: ss.ID == sess.ID, Clients: ss.Clients,
		})
	}
	s.render(w, r, http.StatusOK, "account", "Your account", page)
}

func (s *Server) hasLocalConnector() bool {
	for _, c := range s.connectors {
		if c.Type == "local" {
			return true
		}
	}
	return false
}

func (s *Server) connectorName(id string) string {
	if c, ok := s.connectors[id]; ok {
		return c.Name
	}
	return id
}

// handleAccountLogin starts a login whose only purpose is the account page.
func (s *Server) handleAccountLogin(w http.ResponseWriter, r *http.Request) {
	s.startSelfFlow(w, r, storage.AuthRequest{Purpose: purposeAccount}, "")
}

// startSelfFlow stores an auth request Foyer starts for itself and sends the
// browser to the chooser, or to connector when one is named.
func (s *Server) startSelfFlow(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, connector string) {
	now := s.now().UTC()
	id := storage.NewSecret()
	req.ID = storage.HashSecret(id)
	req.Binding = storage.HashSecret(s.ensureFlowCookie(w, r))
	req.Step = stepLogin
	if req.Scopes == nil {
		req.Scopes = []string{scopeOpenID, scopeEmail, scopeProfile, scopeGroups}
	}
	req.MaxAge = -1
	req.ConnectorHint = connector
	req.CreatedAt = now
	req.ExpiresAt = now.Add(s.life.AuthRequest)
	if err := s.state.CreateAuthRequest(r.Context(), req); err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	client, err := s.flowClient(r, req)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	http.Redirect(w, r, s.loginURL(client, req, id), http.StatusSeeOther)
}

// accountForm checks an account page form: a live session and its CSRF
// token. On failure it writes a page and returns false.
func (s *Server) accountForm(w http.ResponseWriter, r *http.Request) (storage.Session, bool) {
	sess, ok, err := s.currentSession(r)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return storage.Session{}, false
	}
	if !ok {
		s.renderErrorBack(w, r, http.StatusForbidden, "Not logged in", "Your session has ended. Log in again.", s.basePath()+"/account", "Your account")
		return storage.Session{}, false
	}
	if !s.checkMAC(r.PostFormValue("csrf"), "account", sessionCookieValue(r)) {
		s.renderErrorBack(w, r, http.StatusForbidden, "Form expired", "This form is no longer valid.", s.basePath()+"/account", "Your account")
		return storage.Session{}, false
	}
	return sess, true
}

// handleAccountLink starts adding a login method: the connector's login runs
// in a flow bound to this browser and this session, and what it returns is
// linked to this account (see completeLink).
func (s *Server) handleAccountLink(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.accountForm(w, r)
	if !ok {
		return
	}
	conn, exists := s.connectors[r.PostFormValue("connector")]
	if !exists || conn.Type == "local" {
		s.renderErrorBack(w, r, http.StatusBadRequest, "Login method not available",
			"This login method cannot be added.", s.basePath()+"/account", "Your account")
		return
	}
	s.startSelfFlow(w, r, storage.AuthRequest{Purpose: purposeLink, LinkUserID: sess.UserID, LinkSessionID: sess.ID}, conn.ID)
}

// completeLink links the identity a connector just returned to the account
// that started the link, in the same session. An identity already linked
// to someone else is refused, never merged.
func (s *Server) completeLink(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, conn *Connector, ident connectors.Identity) {
	ctx := r.Context()
	back := s.basePath() + "/account"
	sess, ok, err := s.currentSession(r)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	if !ok || sess.ID != req.LinkSessionID || sess.UserID != req.LinkUserID {
		s.logger.WarnContext(ctx, "link refused: not the session that started it", "connector_id", conn.ID)
		s.renderErrorBack(w, r, http.StatusForbidden, "Link not completed",
			"Adding a login method must finish in the session that started it.", back, "Your account")
		return
	}
	if ident.LocalUserID != "" || ident.Subject == "" {
		s.renderErrorBack(w, r, http.StatusBadRequest, "Link not completed",
			"This login method is an account of its own here and cannot be added.", back, "Your account")
		return
	}
	now := s.now().UTC()
	link := storage.Identity{
		ConnectorID: conn.ID, Subject: ident.Subject, UserID: sess.UserID, Claims: ident.Claims(),
		ConnectorData: ident.Data, LinkedAt: now, LastUsedAt: now,
	}
	err = s.dir.LinkIdentity(ctx, link)
	if errors.Is(err, storage.ErrConflict) {
		existing, gerr := s.dir.Identity(ctx, conn.ID, ident.Subject)
		if gerr == nil && existing.UserID == sess.UserID {
			http.Redirect(w, r, back+"?done=linked", http.StatusSeeOther)
			return
		}
		s.logger.WarnContext(ctx, "link refused: identity linked to another user", "connector_id", conn.ID, "user_id", sess.UserID)
		s.renderErrorBack(w, r, http.StatusConflict, "Already linked elsewhere",
			"This "+conn.Name+" account is already linked to another account here. Accounts are never merged; ask an administrator if both are yours.",
			back, "Your account")
		return
	}
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	s.audit(r, sess.UserID, "identity.link", conn.ID)
	s.logger.InfoContext(ctx, "identity linked", "connector_id", conn.ID, "user_id", sess.UserID)
	http.Redirect(w, r, back+"?done=linked", http.StatusSeeOther)
}

// handleAccountUnlink removes a login method, never the last way in.
func (s *Server) handleAccountUnlink(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, ok := s.accountForm(w, r)
	if !ok {
		return
	}
	back := s.basePath() + "/account"
	connID, subject := r.PostFormValue("connector"), r.PostFormValue("subject")
	user, err := s.dir.User(ctx, sess.UserID)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	ids, err := s.dir.IdentitiesByUser(ctx, sess.UserID)
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	ways, mine := len(ids), false
	if user.PasswordHash != "" && s.hasLocalConnector() {
		ways++
	}
	for _, i := range ids {
		if i.ConnectorID == connID && i.Subject == subject {
			mine = true
		}
	}
	switch {
	case !mine:
		s.renderErrorBack(w, r, http.StatusNotFound, "Not linked", "That login method is not linked to your account.", back, "Your account")
		return
	case ways <= 1:
		s.renderErrorBack(w, r, http.StatusConflict, "Cannot remove",
			"This is the only way to log in to your account; add another before removing it.", back, "Your account")
		return
	}
	if err := s.dir.UnlinkIdentity(ctx, connID, subject); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.storeErrorPage(w, r, err)
		return
	}
	s.audit(r, sess.UserID, "identity.unlink", connID)
	http.Redirect(w, r, back+"?done=unlinked", http.StatusSeeOther)
}

// handleAccountRevokeSession ends one of the person's sessions.
func (s *Server) handleAccountRevokeSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, ok := s.accountForm(w, r)
	if !ok {
		return
	}
	back := s.basePath() + "/account"
	target, err := s.state.Session(ctx, r.PostFormValue("sid"))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && target.UserID != sess.UserID) {
		s.renderErrorBack(w, r, http.StatusNotFound, "No such session", "That session has already ended.", back, "Your account")
		return
	}
	if err != nil {
		s.storeErrorPage(w, r, err)
		return
	}
	s.endSession(ctx, target)
	if target.ID == sess.ID {
		s.clearSessionCookie(w)
	}
	http.Redirect(w, r, back+"?done=revoked", http.StatusSeeOther)
}

// audit appends to the audit log; a failure is logged, not fatal.
func (s *Server) audit(r *http.Request, actor, action, target string) {
	err := s.dir.AppendAudit(r.Context(), storage.AuditEvent{
		Time: s.now().UTC(), Actor: "user:" + actor, Action: action, Target: target,
	})
	if err != nil {
		s.logger.WarnContext(r.Context(), "audit", "action", action, "err", err)
	}
}
