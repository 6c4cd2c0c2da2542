package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/foyerid/foyer/storage"
)

// CreateUser stores a new user. ErrConflict if the ID or a non-empty Username
// is taken.
func (s *Store) CreateUser(_ context.Context, u storage.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.ID]; ok {
		return fmt.Errorf("memory: create user %q: %w", u.ID, storage.ErrConflict)
	}
	if u.Username != "" {
		if _, ok := s.usernames[u.Username]; ok {
			return fmt.Errorf("memory: create user %q: username %q: %w", u.ID, u.Username, storage.ErrConflict)
		}
		s.usernames[u.Username] = u.ID
	}
	s.users[u.ID] = copyUser(u)
	return nil
}

// User returns the user with the given ID.
func (s *Store) User(_ context.Context, id string) (storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return storage.User{}, fmt.Errorf("memory: user %q: %w", id, storage.ErrNotFound)
	}
	return copyUser(u), nil
}

// UserByUsername returns the user with the given non-empty username.
func (s *Store) UserByUsername(_ context.Context, username string) (storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.usernames[username]
	if !ok || username == "" {
		return storage.User{}, fmt.Errorf("memory: user by username %q: %w", username, storage.ErrNotFound)
	}
	return copyUser(s.users[id]), nil
}

// UsersByEmail returns the users with exactly this email, ordered by ID.
func (s *Store) UsersByEmail(_ context.Context, email string) ([]storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.User
	for _, u := range s.users {
		if u.Email == email {
			out = append(out, copyUser(u))
		}
	}
	slices.SortFunc(out, func(a, b storage.User) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ListUsers returns every user, ordered by ID.
func (s *Store) ListUsers(context.Context) ([]storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]storage.User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, copyUser(u))
	}
	slices.SortFunc(out, func(a, b storage.User) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateUser applies fn to a copy of the stored user and stores the result.
// An error from fn is returned as is and nothing changes. The ID cannot
// change; a taken Username gives ErrConflict.
func (s *Store) UpdateUser(_ context.Context, id string, fn func(*storage.User) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.users[id]
	if !ok {
		return fmt.Errorf("memory: update user %q: %w", id, storage.ErrNotFound)
	}
	u := copyUser(old)
	if err := fn(&u); err != nil {
		return err
	}
	u.ID = id
	if u.Username != old.Username && u.Username != "" {
		if _, taken := s.usernames[u.Username]; taken {
			return fmt.Errorf("memory: update user %q: username %q: %w", id, u.Username, storage.ErrConflict)
		}
	}
	if old.Username != "" {
		delete(s.usernames, old.Username)
	}
	if u.Username != "" {
		s.usernames[u.Username] = id
	}
	s.users[id] = copyUser(u)
	return nil
}

// DeleteUser removes the user with its identities and consents.
func (s *Store) DeleteUser(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("memory: delete user %q: %w", id, storage.ErrNotFound)
	}
	if u.Username != "" {
		delete(s.usernames, u.Username)
	}
	delete(s.users, id)
	for k, i := range s.identities {
		if i.UserID == id {
			delete(s.identities, k)
		}
	}
	for k := range s.consents {
		if k.userID == id {
			delete(s.consents, k)
		}
	}
	return nil
}

// LinkIdentity stores a new link. ErrNotFound if the user does not exist;
// ErrConflict if (ConnectorID, Subject) is already linked.
func (s *Store) LinkIdentity(_ context.Context, id storage.Identity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id.UserID]; !ok {
		return fmt.Errorf("memory: link identity: user %q: %w", id.UserID, storage.ErrNotFound)
	}
	k := identityKey{id.ConnectorID, id.Subject}
	if _, ok := s.identities[k]; ok {
		return fmt.Errorf("memory: link identity %s/%q: %w", id.ConnectorID, id.Subject, storage.ErrConflict)
	}
	s.identities[k] = copyIdentity(id)
	return nil
}

// Identity returns the identity (connectorID, subject).
func (s *Store) Identity(_ context.Context, connectorID, subject string) (storage.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.identities[identityKey{connectorID, subject}]
	if !ok {
		return storage.Identity{}, fmt.Errorf("memory: identity %s/%q: %w", connectorID, subject, storage.ErrNotFound)
	}
	return copyIdentity(i), nil
}

// IdentitiesByUser returns a user's identities ordered by connector and
// subject.
func (s *Store) IdentitiesByUser(_ context.Context, userID string) ([]storage.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Identity
	for _, i := range s.identities {
		if i.UserID == userID {
			out = append(out, copyIdentity(i))
		}
	}
	slices.SortFunc(out, func(a, b storage.Identity) int {
		return cmp.Or(cmp.Compare(a.ConnectorID, b.ConnectorID), cmp.Compare(a.Subject, b.Subject))
	})
	return out, nil
}

// UpdateIdentity applies fn to a copy of the stored identity and stores the
// result; ConnectorID, Subject and UserID are kept.
func (s *Store) UpdateIdentity(_ context.Context, connectorID, subject string, fn func(*storage.Identity) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := identityKey{connectorID, subject}
	old, ok := s.identities[k]
	if !ok {
		return fmt.Errorf("memory: update identity %s/%q: %w", connectorID, subject, storage.ErrNotFound)
	}
	i := copyIdentity(old)
	if err := fn(&i); err != nil {
		return err
	}
	i.ConnectorID, i.Subject, i.UserID = old.ConnectorID, old.Subject, old.UserID
	s.identities[k] = copyIdentity(i)
	return nil
}

// UnlinkIdentity removes the identity (connectorID, subject).
func (s *Store) UnlinkIdentity(_ context.Context, connectorID, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := identityKey{connectorID, subject}
	if _, ok := s.identities[k]; !ok {
		return fmt.Errorf("memory: unlink identity %s/%q: %w", connectorID, subject, storage.ErrNotFound)
	}
	delete(s.identities, k)
	return nil
}

// CreateClient stores a new client. ErrConflict if the ID is taken.
func (s *Store) CreateClient(_ context.Context, c storage.Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("memory: create client %q: %w", c.ID, storage.ErrConflict)
	}
	s.clients[c.ID] = copyClient(c)
	return nil
}

// Client returns the client with the given ID.
func (s *Store) Client(_ context.Context, id string) (storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return storage.Client{}, fmt.Errorf("memory: client %q: %w", id, storage.ErrNotFound)
	}
	return copyClient(c), nil
}

// ListClients returns every client, ordered by ID.
func (s *Store) ListClients(context.Context) ([]storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]storage.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, copyClient(c))
	}
	slices.SortFunc(out, func(a, b storage.Client) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateClient applies fn to a copy of the stored client and stores the
// result; the ID is kept.
func (s *Store) UpdateClient(_ context.Context, id string, fn func(*storage.Client) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("memory: update client %q: %w", id, storage.ErrNotFound)
	}
	c := copyClient(old)
	if err := fn(&c); err != nil {
		return err
	}
	c.ID = id
	s.clients[id] = copyClient(c)
	return nil
}

// DeleteClient removes a client.
func (s *Store) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("memory: delete client %q: %w", id, storage.ErrNotFound)
	}
	delete(s.clients, id)
	return nil
}

// CreateConnector stores a new connector. ErrConflict if the ID is taken.
func (s *Store) CreateConnector(_ context.Context, c storage.ConnectorConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.connectors[c.ID]; ok {
		return fmt.Errorf("memory: create connector %q: %w", c.ID, storage.ErrConflict)
	}
	s.connectors[c.ID] = copyConnector(c)
	return nil
}

// Connector returns the connector with the given ID.
func (s *Store) Connector(_ context.Context, id string) (storage.ConnectorConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.connectors[id]
	if !ok {
		return storage.ConnectorConfig{}, fmt.Errorf("memory: connector %q: %w", id, storage.ErrNotFound)
	}
	return copyConnector(c), nil
}

// ListConnectors returns every connector, ordered by ID.
func (s *Store) ListConnectors(context.Context) ([]storage.ConnectorConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]storage.ConnectorConfig, 0, len(s.connectors))
	for _, c := range s.connectors {
		out = append(out, copyConnector(c))
	}
	slices.SortFunc(out, func(a, b storage.ConnectorConfig) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateConnector applies fn to a copy of the stored connector and stores
// the result; the ID is kept.
func (s *Store) UpdateConnector(_ context.Context, id string, fn func(*storage.ConnectorConfig) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.connectors[id]
	if !ok {
		return fmt.Errorf("memory: update connector %q: %w", id, storage.ErrNotFound)
	}
	c := copyConnector(old)
	if err := fn(&c); err != nil {
		return err
	}
	c.ID = id
	s.connectors[id] = copyConnector(c)
	return nil
}

// DeleteConnector removes a connector.
func (s *Store) DeleteConnector(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.connectors[id]; !ok {
		return fmt.Errorf("memory: delete connector %q: %w", id, storage.ErrNotFound)
	}
	delete(s.connectors, id)
	return nil
}

// PutConsent creates or replaces the consent of (UserID, ClientID).
func (s *Store) PutConsent(_ context.Context, c storage.Consent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consents[consentKey{c.UserID, c.ClientID}] = copyConsent(c)
	return nil
}

// Consent returns the consent of (userID, clientID).
func (s *Store) Consent(_ context.Context, userID, clientID string) (storage.Consent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consents[consentKey{userID, clientID}]
	if !ok {
		return storage.Consent{}, fmt.Errorf("memory: consent %q/%q: %w", userID, clientID, storage.ErrNotFound)
	}
	return copyConsent(c), nil
}

// ConsentsByUser returns a user's consents ordered by client ID.
func (s *Store) ConsentsByUser(_ context.Context, userID string) ([]storage.Consent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Consent
	for k, c := range s.consents {
		if k.userID == userID {
			out = append(out, copyConsent(c))
		}
	}
	slices.SortFunc(out, func(a, b storage.Consent) int { return cmp.Compare(a.ClientID, b.ClientID) })
	return out, nil
}

// DeleteConsent removes the consent of (userID, clientID).
func (s *Store) DeleteConsent(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := consentKey{userID, clientID}
	if _, ok := s.consents[k]; !ok {
		return fmt.Errorf("memory: delete consent %q/%q: %w", userID, clientID, storage.ErrNotFound)
	}
	delete(s.consents, k)
	return nil
}

// AppendAudit stores e, filling in an empty ID. ErrConflict if the ID was
// already used.
func (s *Store) AppendAudit(_ context.Context, e storage.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.ID == "" {
		e.ID = storage.NewID()
	}
	if s.auditIDs[e.ID] {
		return fmt.Errorf("memory: append audit %q: %w", e.ID, storage.ErrConflict)
	}
	s.auditIDs[e.ID] = true
	s.audit = append(s.audit, e)
	return nil
}

// ListAudit returns events at or after since, oldest first (events at the
// same instant in the order they were appended), at most limit of them
// (limit <= 0 means 100).
func (s *Store) ListAudit(_ context.Context, since time.Time, limit int) ([]storage.AuditEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.AuditEvent
	for _, e := range s.audit {
		if !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b storage.AuditEvent) int { return a.Time.Compare(b.Time) })
	if len(out) > limit {
		out = out[:limit:limit]
	}
	return out, nil
}
