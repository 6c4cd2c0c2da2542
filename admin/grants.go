package admin

import (
	"net/http"
	"slices"
	"time"

	"github.com/foyerid/foyer/storage"
)

// Grant is what one login gave one client, as the API shows it: the
// refresh-token hashes, the sealed successor and the connector's data are
// left out.
type Grant struct {
	ID                string    `json:"id"`
	ClientID          string    `json:"clientId"`
	UserID            string    `json:"userId"`
	Scopes            []string  `json:"scopes"`
	ConnectorID       string    `json:"connectorId,omitempty"`
	SessionID         string    `json:"sessionId,omitempty"`
	Offline           bool      `json:"offline"`
	CreatedAt         time.Time `json:"createdAt"`
	ExpiresAt         time.Time `json:"expiresAt"`
	AbsoluteExpiresAt time.Time `json:"absoluteExpiresAt,omitzero"`
	RotatedAt         time.Time `json:"rotatedAt,omitzero"`
	Revoked           bool      `json:"revoked"`
	RevokedAt         time.Time `json:"revokedAt,omitzero"`
}

// GrantList is the answer of GET /users/{id}/grants.
type GrantList struct {
	Grants []Grant `json:"grants"`
}

func grantOut(g storage.Grant) Grant {
	scopes := slices.Clone(g.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	return Grant{
		ID: g.ID, ClientID: g.ClientID, UserID: g.Login.UserID, Scopes: scopes,
		ConnectorID: g.Login.ConnectorID, SessionID: g.Login.SessionID, Offline: g.Offline,
		CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt, AbsoluteExpiresAt: g.AbsoluteExpiresAt,
		RotatedAt: g.RotatedAt, Revoked: g.Revoked, RevokedAt: g.RevokedAt,
	}
}

func (s *Server) listGrants(w http.ResponseWriter, r *http.Request) error {
	id, err := pathValue(r, "id", "user")
	if err != nil {
		return err
	}
	if _, err := s.dir.User(r.Context(), id); err != nil {
		return lookup(err, "user")
	}
	list, err := s.state.GrantsByUser(r.Context(), id)
	if err != nil {
		return err
	}
	out := GrantList{Grants: make([]Grant, 0, len(list))}
	for _, g := range list {
		out.Grants = append(out.Grants, grantOut(g))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// revokeGrant revokes a grant and every refresh token in it (RFC 7009's
// effect, by an administrator). Revoking twice is not an error.
func (s *Server) revokeGrant(w http.ResponseWriter, r *http.Request) error {
	id, err := pathValue(r, "id", "grant")
	if err != nil {
		return err
	}
	g, err := s.state.Grant(r.Context(), id)
	if err != nil {
		return lookup(err, "grant")
	}
	if err := s.state.RevokeGrant(r.Context(), id); err != nil {
		return lookup(err, "grant")
	}
	s.audit(r.Context(), "grant.revoke", id, "user="+g.Login.UserID+" client="+g.ClientID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
