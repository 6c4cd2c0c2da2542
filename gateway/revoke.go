package gateway

import (
	"errors"
	"net/http"
	"strings"

	"github.com/foyerid/foyer/storage"
)

// handleRevoke is the revocation endpoint (RFC 7009). The client
// authenticates as at the token endpoint; revoking a refresh token or an
// access token revokes the whole grant it belongs to (every token of that
// login for that client, §2.1 allows it). An unknown, expired or foreign
// token is not an error: the answer is 200 either way (§2.2), so the
// endpoint tells nobody whether a token existed.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, client, ok := s.clientForm(w, r)
	if !ok {
		return
	}
	token := form.Get("token")
	if token == "" {
		s.writeJSONError(w, r, errInvalidRequest("token is required."))
		return
	}
	grantID, err := s.grantOfToken(r, token, form.Get("token_type_hint"))
	if err != nil {
		s.writeJSONError(w, r, err)
		return
	}
	if grantID != "" {
		g, err := s.state.Grant(r.Context(), grantID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			s.writeJSONError(w, r, err)
			return
		case g.ClientID == client.ID:
			if err := s.state.RevokeGrant(r.Context(), g.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				s.writeJSONError(w, r, err)
				return
			}
			s.logger.InfoContext(r.Context(), "grant revoked by its client", "client_id", client.ID, "user_id", g.Login.UserID)
		default:
			// Another client's token: nothing happens (§2.1: the server
			// verifies the token was issued to the requesting client).
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// grantOfToken finds the grant a refresh token or a Foyer access token
// belongs to, or "" when the token is neither (or is expired or forged).
func (s *Server) grantOfToken(r *http.Request, token, hint string) (string, error) {
	if len(token) > 8192 {
		return "", nil
	}
	tryRefresh := func() (string, error) {
		if strings.Count(token, ".") != 0 {
			return "", nil // refresh tokens are opaque, JWTs have dots
		}
		g, err := s.state.GrantByRefreshToken(r.Context(), storage.HashSecret(token))
		if errors.Is(err, storage.ErrNotFound) {
			return "", nil
		}
		return g.ID, err
	}
	tryAccess := func() string {
		payload, err := s.keys.Verify(token, typAccessToken)
		if err != nil {
			return ""
		}
		c, ok := s.accessClaims(payload)
		if !ok {
			return ""
		}
		id, _, _ := strings.Cut(c.JTI, ".")
		return id
	}
	if hint == "access_token" {
		if id := tryAccess(); id != "" {
			return id, nil
		}
		return tryRefresh()
	}
	id, err := tryRefresh()
	if id != "" || err != nil {
		return id, err
	}
	return tryAccess(), nil
}
