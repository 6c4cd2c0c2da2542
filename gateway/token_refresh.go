package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/storage"
)

// grantRefresh rotates a refresh token (RFC 6749 §6, RFC 9700 §4.14.2).
// Every use returns a new refresh token; presenting a rotated one revokes
// the whole grant, except that a repeat within the grace window (a client
// retrying a lost response) gets the same successor again.
func (s *Server) grantRefresh(r *http.Request, client storage.Client, form url.Values) (*tokenResponse, error) {
	ctx := r.Context()
	presented := form.Get("refresh_token")
	if presented == "" || len(presented) > 128 {
		return nil, errInvalidRequest("refresh_token is required.")
	}
	hash := storage.HashSecret(presented)
	g, err := s.state.GrantByRefreshToken(ctx, hash)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errInvalidGrant("The refresh token is not valid or has expired.")
	}
	if err != nil {
		return nil, err
	}
	if g.ClientID != client.ID {
		return nil, errInvalidGrant("The refresh token was issued to another client.")
	}
	if g.Revoked {
		return nil, errInvalidGrant("The refresh token has been revoked.")
	}
	scopes, err := narrowScopes(g.Scopes, form.Get("scope"))
	if err != nil {
		return nil, err
	}
	if err := s.checkLogin(r, client, g.Login); err != nil {
		return nil, err
	}
	if !g.Offline && g.Login.SessionID != "" {
		if _, err := s.state.Session(ctx, g.Login.SessionID); errors.Is(err, storage.ErrNotFound) {
			return nil, errInvalidGrant("The login session this refresh token belongs to has ended.")
		} else if err != nil {
			return nil, err
		}
	}
	rot := storage.Rotation{
		TokenHash: hash, ClientID: client.ID,
		Grace: s.life.RefreshReuseGrace, IdleTTL: s.life.RefreshIdle,
	}
	// Only the current token is worth re-checking upstream; an old one goes
	// straight to the reuse rules.
	if hash == g.TokenHash {
		claims, data, err := s.refreshUpstream(ctx, g)
		if err != nil {
			return nil, err
		}
		rot.Claims, rot.ConnectorData = claims, data
	}
	successor := storage.NewSecret()
	rot.NewTokenHash = storage.HashSecret(successor)
	if rot.SuccessorSealed, err = sealSuccessor(presented, successor); err != nil {
		return nil, err
	}
	g, sealed, err := s.state.RotateRefreshToken(ctx, rot)
	switch {
	case errors.Is(err, storage.ErrReuse):
		s.logger.WarnContext(ctx, "refresh token reuse detected: grant revoked", "client_id", client.ID, "user_id", g.Login.UserID)
		return nil, errInvalidGrant("The refresh token was already used; the grant has been revoked.")
	case errors.Is(err, storage.ErrRevoked), errors.Is(err, storage.ErrNotFound):
		return nil, errInvalidGrant("The refresh token is not valid.")
	case err != nil:
		return nil, err
	}
	if sealed != nil {
		// A retry within the grace window: the same successor again.
		if successor, err = openSuccessor(presented, sealed); err != nil {
			return nil, err
		}
	}
	return s.mint(ctx, client, g, scopes, "", successor)
}

// narrowScopes: a refresh may ask for fewer scopes, never more (RFC 6749
// §6).
func narrowScopes(granted []string, requested string) ([]string, error) {
	if strings.TrimSpace(requested) == "" {
		return granted, nil
	}
	var out []string
	for _, sc := range strings.Fields(requested) {
		if !slices.Contains(granted, sc) {
			return nil, errInvalidScope("Scope " + sc + " was not granted.")
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// refreshUpstream asks a refresh-capable connector whether the identity is
// still valid and what its claims are now. A refusal fails the refresh
// with invalid_grant; an unreachable upstream with
// temporarily_unavailable.
func (s *Server) refreshUpstream(ctx context.Context, g storage.Grant) (*storage.Claims, []byte, error) {
	conn, ok := s.connectors[g.Login.ConnectorID]
	if !ok {
		return nil, nil, errInvalidGrant("The login method of this grant no longer exists.")
	}
	rc, ok := conn.Impl.(connectors.RefreshConnector)
	if !ok {
		return nil, nil, nil
	}
	data, err := s.openData(conn.ID, g.Login.ConnectorData)
	if err != nil {
		s.logger.ErrorContext(ctx, "refresh: connector data does not open", "connector_id", conn.ID, "err", err)
		return nil, nil, errInvalidGrant("The grant's upstream state is not readable; log in again.")
	}
	c := g.Login.Claims
	id := connectors.Identity{
		Subject: g.Login.Subject, Email: c.Email, EmailVerified: c.EmailVerified,
		Name: c.Name, Username: c.Username, Groups: c.Groups, Data: data,
	}
	if ident := connectorsIdentityLocal(conn); ident {
		id.LocalUserID = g.Login.UserID
	}
	fresh, err := rc.Refresh(ctx, connectors.Scopes{
		OfflineAccess: g.Offline, Groups: slices.Contains(g.Scopes, scopeGroups),
	}, id)
	var refusal *connectors.Refusal
	switch {
	case errors.Is(err, connectors.ErrIdentityGone), errors.As(err, &refusal):
		s.logger.InfoContext(ctx, "refresh refused upstream", "connector_id", conn.ID, "user_id", g.Login.UserID, "err", err)
		return nil, nil, errInvalidGrant("The account is no longer valid upstream.")
	case err != nil:
		s.logger.WarnContext(ctx, "refresh upstream failed", "connector_id", conn.ID, "err", err)
		return nil, nil, errTemporarilyUnavailable(err)
	}
	u, err := s.dir.User(ctx, g.Login.UserID)
	if err != nil {
		return nil, nil, err
	}
	claims := mergeClaims(u, fresh)
	sealed, err := s.sealData(conn.ID, fresh.Data)
	if err != nil {
		return nil, nil, err
	}
	return &claims, sealed, nil
}
