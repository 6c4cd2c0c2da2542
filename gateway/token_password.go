package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
)

// grantPassword is the resource owner password credentials grant (RFC 6749
// §4.3), off unless a client lists it in grantTypes: for command-line tools
// that cannot open a browser. It goes through a password connector the
// client may use (connector_id picks one when several are allowed).
func (s *Server) grantPassword(r *http.Request, client storage.Client, form url.Values) (*tokenResponse, error) {
	ctx := r.Context()
	username, password := strings.TrimSpace(form.Get("username")), form.Get("password")
	if username == "" || password == "" {
		return nil, errInvalidRequest("username and password are required.")
	}
	if len(username) > 256 || !validLogin(username) {
		return nil, errInvalidGrant("Incorrect username or password.")
	}
	scopes, oerr := parseScopes(form.Get("scope"))
	if oerr != nil {
		return nil, oerr
	}
	if !grantAllowed(client, grantRefreshToken) {
		scopes = slices.DeleteFunc(scopes, func(s string) bool { return s == scopeOfflineAccess })
	}
	conn, pc, err := s.passwordConnectorFor(client, form.Get(connectorParam))
	if err != nil {
		return nil, err
	}
	throttled, err := s.loginThrottled(r, conn.ID, username)
	if err != nil {
		return nil, err
	}
	if throttled {
		s.logger.WarnContext(ctx, "password grant rate limited", "connector_id", conn.ID, "client_id", client.ID)
		return nil, errInvalidGrant("Too many attempts; try again later.")
	}
	ident, ok, err := pc.Login(ctx, connectors.Scopes{
		OfflineAccess: slices.Contains(scopes, scopeOfflineAccess),
		Groups:        slices.Contains(scopes, scopeGroups),
	}, username, password)
	var refusal *connectors.Refusal
	switch {
	case errors.As(err, &refusal):
		return nil, errInvalidGrant(refusal.Reason)
	case err != nil:
		s.logger.ErrorContext(ctx, "password grant: connector failed", "connector_id", conn.ID, "err", err)
		return nil, errTemporarilyUnavailable(err)
	case !ok:
		return nil, errInvalidGrant("Incorrect username or password.")
	}
	if ident.Data, err = s.sealData(conn.ID, ident.Data); err != nil {
		return nil, err
	}
	user, err := s.linker.Resolve(ctx, conn.ID, conn.Policy, ident)
	switch {
	case errors.Is(err, identity.ErrDisabled):
		return nil, errInvalidGrant("The user is disabled.")
	case errors.Is(err, identity.ErrSignupDenied):
		return nil, errInvalidGrant("There is no account for this login.")
	case err != nil:
		return nil, err
	}
	login := storage.Login{
		UserID: user.ID, Claims: mergeClaims(user, ident), ConnectorID: conn.ID,
		Subject: ident.Subject, ConnectorData: ident.Data,
		AuthTime: s.now().UTC().Truncate(time.Second), AMR: amrFor(conn, ident),
	}
	// No browser session backs this grant: it stands alone.
	g, refresh := s.newGrant(client, storage.NewID(), scopes, login, true)
	if err := s.state.CreateGrant(ctx, g); err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "password grant", "connector_id", conn.ID, "client_id", client.ID, "user_id", user.ID)
	return s.mint(ctx, client, g, scopes, "", refresh)
}

// passwordConnectorFor picks the password connector of a password grant.
func (s *Server) passwordConnectorFor(client storage.Client, hint string) (*Connector, connectors.PasswordConnector, error) {
	var found []*Connector
	for _, c := range s.allowedConnectors(client) {
		if _, ok := c.Impl.(connectors.PasswordConnector); ok && (hint == "" || c.ID == hint) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		if hint != "" {
			return nil, nil, errInvalidRequest("connector_id names no password connector this client may use.")
		}
		return nil, nil, errUnauthorizedClient("No password login method is enabled for this client.")
	case 1:
		return found[0], found[0].Impl.(connectors.PasswordConnector), nil
	default:
		return nil, nil, errInvalidRequest("Several password connectors are enabled; choose one with connector_id.")
	}
}
