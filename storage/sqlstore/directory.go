package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/foyerid/foyer/storage"
)

const clientColumns = `id, secret_hash, name, is_public, redirect_uris_json, post_logout_redirect_uris_json,
	grant_types_json, allowed_connectors_json, require_pkce, skip_consent, backchannel_logout_uri,
	backchannel_logout_session_required, signing_algorithm, static, created_at, updated_at`

func scanClient(sc scanner) (storage.Client, error) {
	var (
		c                                   storage.Client
		redirects, postLogout, grants, conn string
		created, updated                    int64
	)
	err := sc.Scan(&c.ID, &c.SecretHash, &c.Name, &c.Public, &redirects, &postLogout, &grants, &conn,
		&c.RequirePKCE, &c.SkipConsent, &c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired,
		&c.SigningAlgorithm, &c.Static, &created, &updated)
	if err != nil {
		return storage.Client{}, err
	}
	for _, l := range []struct {
		src string
		dst *[]string
	}{{redirects, &c.RedirectURIs}, {postLogout, &c.PostLogoutRedirectURIs}, {grants, &c.GrantTypes},
		{conn, &c.AllowedConnectors}} {
		if *l.dst, err = parseList(l.src); err != nil {
			return storage.Client{}, err
		}
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return c, nil
}

// clientArgs are c's columns after the id, in clientColumns order.
func clientArgs(c storage.Client) ([]any, error) {
	var lists [4]string
	for i, l := range [][]string{c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.AllowedConnectors} {
		var err error
		if lists[i], err = jsonList(l); err != nil {
			return nil, err
		}
	}
	return []any{c.SecretHash, c.Name, c.Public, lists[0], lists[1], lists[2], lists[3],
		c.RequirePKCE, c.SkipConsent, c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired,
		c.SigningAlgorithm, c.Static, millis(c.CreatedAt), millis(c.UpdatedAt)}, nil
}

// CreateClient stores a new client; ErrConflict if the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return s.fail("create client", err)
	}
	_, err = s.exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, append([]any{c.ID}, args...)...)
	return s.fail("create client", err)
}

// Client returns the client with the given ID.
func (s *Store) Client(ctx context.Context, id string) (storage.Client, error) {
	c, err := scanClient(s.queryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	return c, s.fail("read client", err)
}

// ListClients returns every client, ordered by ID.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	cs, err := listRows(ctx, s, scanClient, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	return cs, s.fail("list clients", err)
}

// UpdateClient applies fn to the stored client in one transaction; the ID
// cannot change.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*storage.Client) error) error {
	return s.write(ctx, "update client", func(t tx) error {
		c, err := scanClient(t.queryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`+t.forUpdate(), id))
		if err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return &callerError{err}
		}
		args, err := clientArgs(c)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `UPDATE clients SET secret_hash = ?, name = ?, is_public = ?,
			redirect_uris_json = ?, post_logout_redirect_uris_json = ?, grant_types_json = ?,
			allowed_connectors_json = ?, require_pkce = ?, skip_consent = ?, backchannel_logout_uri = ?,
			backchannel_logout_session_required = ?, signing_algorithm = ?, static = ?, created_at = ?,
			updated_at = ? WHERE id = ?`, append(args, id)...)
		return err
	})
}

// DeleteClient removes a client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.write(ctx, "delete client", func(t tx) error {
		return deleteOne(ctx, t, `DELETE FROM clients WHERE id = ?`, id)
	})
}

const connectorColumns = `id, type, name, config, created_at, updated_at`

func scanConnector(sc scanner) (storage.ConnectorConfig, error) {
	var (
		c                storage.ConnectorConfig
		created, updated int64
	)
	if err := sc.Scan(&c.ID, &c.Type, &c.Name, &c.Config, &created, &updated); err != nil {
		return storage.ConnectorConfig{}, err
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return c, nil
}

// CreateConnector stores a new connector; ErrConflict if the ID is taken.
func (s *Store) CreateConnector(ctx context.Context, c storage.ConnectorConfig) error {
	_, err := s.exec(ctx, `INSERT INTO connectors (`+connectorColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.Type, c.Name, c.Config, millis(c.CreatedAt), millis(c.UpdatedAt))
	return s.fail("create connector", err)
}

// Connector returns the connector with the given ID.
func (s *Store) Connector(ctx context.Context, id string) (storage.ConnectorConfig, error) {
	c, err := scanConnector(s.queryRow(ctx, `SELECT `+connectorColumns+` FROM connectors WHERE id = ?`, id))
	return c, s.fail("read connector", err)
}

// ListConnectors returns every stored connector, ordered by ID.
func (s *Store) ListConnectors(ctx context.Context) ([]storage.ConnectorConfig, error) {
	cs, err := listRows(ctx, s, scanConnector, `SELECT `+connectorColumns+` FROM connectors ORDER BY id`)
	return cs, s.fail("list connectors", err)
}

// UpdateConnector applies fn to the stored connector in one transaction;
// the ID cannot change.
func (s *Store) UpdateConnector(ctx context.Context, id string, fn func(*storage.ConnectorConfig) error) error {
	return s.write(ctx, "update connector", func(t tx) error {
		c, err := scanConnector(t.queryRow(ctx, `SELECT `+connectorColumns+` FROM connectors
			WHERE id = ?`+t.forUpdate(), id))
		if err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return &callerError{err}
		}
		_, err = t.exec(ctx, `UPDATE connectors SET type = ?, name = ?, config = ?, created_at = ?,
			updated_at = ? WHERE id = ?`, c.Type, c.Name, c.Config, millis(c.CreatedAt), millis(c.UpdatedAt), id)
		return err
	})
}

// DeleteConnector removes a stored connector.
func (s *Store) DeleteConnector(ctx context.Context, id string) error {
	return s.write(ctx, "delete connector", func(t tx) error {
		return deleteOne(ctx, t, `DELETE FROM connectors WHERE id = ?`, id)
	})
}

const consentColumns = `user_id, client_id, scopes_json, granted_at`

func scanConsent(sc scanner) (storage.Consent, error) {
	var (
		c       storage.Consent
		scopes  string
		granted int64
	)
	err := sc.Scan(&c.UserID, &c.ClientID, &scopes, &granted)
	if err != nil {
		return storage.Consent{}, err
	}
	if c.Scopes, err = parseList(scopes); err != nil {
		return storage.Consent{}, err
	}
	c.GrantedAt = fromMillis(granted)
	return c, nil
}

// PutConsent creates or replaces the consent of (UserID, ClientID).
func (s *Store) PutConsent(ctx context.Context, c storage.Consent) error {
	scopes, err := jsonList(c.Scopes)
	if err != nil {
		return s.fail("put consent", err)
	}
	_, err = s.exec(ctx, `INSERT INTO consents (`+consentColumns+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE
		SET scopes_json = excluded.scopes_json, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, scopes, millis(c.GrantedAt))
	return s.fail("put consent", err)
}

// Consent returns the consent a user gave a client.
func (s *Store) Consent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	c, err := scanConsent(s.queryRow(ctx, `SELECT `+consentColumns+` FROM consents
		WHERE user_id = ? AND client_id = ?`, userID, clientID))
	return c, s.fail("read consent", err)
}

// ConsentsByUser returns a user's consents, ordered by client.
func (s *Store) ConsentsByUser(ctx context.Context, userID string) ([]storage.Consent, error) {
	cs, err := listRows(ctx, s, scanConsent, `SELECT `+consentColumns+` FROM consents WHERE user_id = ?
		ORDER BY client_id`, userID)
	return cs, s.fail("list consents", err)
}

// DeleteConsent forgets a consent.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return s.write(ctx, "delete consent", func(t tx) error {
		return deleteOne(ctx, t, `DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
	})
}

const auditColumns = `id, occurred_at, actor, action, target, detail`

func scanAudit(sc scanner) (storage.AuditEvent, error) {
	var (
		e  storage.AuditEvent
		at int64
	)
	if err := sc.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
		return storage.AuditEvent{}, err
	}
	e.Time = fromMillis(at)
	return e, nil
}

// AppendAudit stores an audit event, filling in an empty ID.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	if e.ID == "" {
		e.ID = storage.NewID()
	}
	_, err := s.exec(ctx, `INSERT INTO audit (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, millis(e.Time), e.Actor, e.Action, e.Target, e.Detail)
	return s.fail("append audit", err)
}

// ListAudit returns events at or after since, oldest first (in order of
// appending among equal times), at most limit (100 if limit <= 0).
func (s *Store) ListAudit(ctx context.Context, since time.Time, limit int) ([]storage.AuditEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	es, err := listRows(ctx, s, scanAudit, `SELECT `+auditColumns+` FROM audit WHERE occurred_at >= ?
		ORDER BY occurred_at, seq LIMIT ?`, millis(since), limit)
	return es, s.fail("list audit", err)
}

// listRows runs a read and scans every row.
func listRows[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// listTx is listRows inside a write transaction.
func listTx[T any](ctx context.Context, t tx, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// scanAll scans and closes rows.
func scanAll[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
