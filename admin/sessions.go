package admin

import (
	"net/http"
	"slices"
	"time"

	"github.com/foyerid/foyer/storage"
)

// Session is a browser's SSO session as the API shows it. ID is the
// session's hash as the store keys it, never the cookie value.
type Session struct {
	ID                string    `json:"id"`
	UserID            string    `json:"userId"`
	ConnectorID       string    `json:"connectorId,omitempty"`
	AMR               []string  `json:"amr,omitempty"`
	AuthTime          time.Time `json:"authTime,omitzero"`
	Clients           []string  `json:"clients"`
	CreatedAt         time.Time `json:"createdAt"`
	LastSeenAt        time.Time `json:"lastSeenAt,omitzero"`
	ExpiresAt         time.Time `json:"expiresAt"`
	AbsoluteExpiresAt time.Time `json:"absoluteExpiresAt,omitzero"`
}

// SessionList is the answer of GET /users/{id}/sessions.
type SessionList struct {
	Sessions []Session `json:"sessions"`
}

func sessionOut(s storage.Session) Session {
	clients := slices.Clone(s.Clients)
	if clients == nil {
		clients = []string{}
	}
	return Session{
		ID: s.ID, UserID: s.UserID, ConnectorID: s.Login.ConnectorID, AMR: slices.Clone(s.Login.AMR),
		AuthTime: s.Login.AuthTime, Clients: clients, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt,
		ExpiresAt: s.ExpiresAt, AbsoluteExpiresAt: s.AbsoluteExpiresAt,
	}
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	id, err := pathValue(r, "id", "user")
	if err != nil {
		return err
	}
	if _, err := s.dir.User(r.Context(), id); err != nil {
		return lookup(err, "user")
	}
	list, err := s.state.SessionsByUser(r.Context(), id)
	if err != nil {
		return err
	}
	out := SessionList{Sessions: make([]Session, 0, len(list))}
	for _, sess := range list {
		out.Sessions = append(out.Sessions, sessionOut(sess))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// revokeSession ends a session as a logout would: its session-bound grants
// are revoked and its clients told over the back channel.
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) error {
	sid, err := pathValue(r, "sid", "session")
	if err != nil {
		return err
	}
	sess, err := s.state.Session(r.Context(), sid)
	if err != nil {
		return lookup(err, "session")
	}
	s.endSession(r.Context(), sess)
	s.audit(r.Context(), "session.revoke", sid, "user="+sess.UserID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
