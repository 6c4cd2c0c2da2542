package admin

import (
	"net/http"
	"time"

	"github.com/foyerid/foyer/storage"
)

// Identity is a remote identity linked to a user, as the API shows it; the
// connector's opaque data (which may hold upstream tokens) is left out.
type Identity struct {
	ConnectorID string         `json:"connectorId"`
	Subject     string         `json:"subject"`
	UserID      string         `json:"userId"`
	Claims      storage.Claims `json:"claims"`
	LinkedAt    time.Time      `json:"linkedAt"`
	LastUsedAt  time.Time      `json:"lastUsedAt,omitzero"`
}

// IdentityList is the answer of GET /users/{id}/identities.
type IdentityList struct {
	Identities []Identity `json:"identities"`
}

func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request) error {
	id, err := pathValue(r, "id", "user")
	if err != nil {
		return err
	}
	if _, err := s.dir.User(r.Context(), id); err != nil {
		return lookup(err, "user")
	}
	ids, err := s.dir.IdentitiesByUser(r.Context(), id)
	if err != nil {
		return err
	}
	out := IdentityList{Identities: make([]Identity, 0, len(ids))}
	for _, i := range ids {
		out.Identities = append(out.Identities, Identity{
			ConnectorID: i.ConnectorID, Subject: i.Subject, UserID: i.UserID, Claims: i.Claims,
			LinkedAt: i.LinkedAt, LastUsedAt: i.LastUsedAt,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// unlinkIdentity removes a linked identity, never the last way in: as on
// the account page, a local password counts as one when a local connector
// is configured.
func (s *Server) unlinkIdentity(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	userID, err := pathValue(r, "id", "user")
	if err != nil {
		return err
	}
	connID, err := pathValue(r, "connector", "linked identity")
	if err != nil {
		return err
	}
	subject, err := pathValue(r, "subject", "linked identity")
	if err != nil {
		return err
	}
	user, err := s.dir.User(ctx, userID)
	if err != nil {
		return lookup(err, "user")
	}
	ids, err := s.dir.IdentitiesByUser(ctx, userID)
	if err != nil {
		return err
	}
	ways, mine := len(ids), false
	if user.PasswordHash != "" && s.localPasswords {
		ways++
	}
	for _, i := range ids {
		mine = mine || (i.ConnectorID == connID && i.Subject == subject)
	}
	switch {
	case !mine:
		return notFound("identity linked to this user")
	case ways <= 1:
		return conflict("this is the user's only way to log in; link another identity or set a password first (or delete the user)")
	}
	if err := s.dir.UnlinkIdentity(ctx, connID, subject); err != nil {
		return lookup(err, "identity linked to this user")
	}
	s.audit(ctx, "identity.unlink", userID, "connector="+connID+" subject="+subject)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
