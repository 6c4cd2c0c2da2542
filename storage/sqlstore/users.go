package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/foyerid/foyer/storage"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

const userColumns = `id, email, email_verified, name, username, groups_json, password_hash,
	disabled, static, created_at, updated_at, last_login_at`

func scanUser(sc scanner) (storage.User, error) {
	var (
		u                           storage.User
		groups                      string
		created, updated, lastLogin int64
	)
	err := sc.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.Username, &groups, &u.PasswordHash,
		&u.Disabled, &u.Static, &created, &updated, &lastLogin)
	if err != nil {
		return storage.User{}, err
	}
	if u.Groups, err = parseList(groups); err != nil {
		return storage.User{}, err
	}
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMillis(created), fromMillis(updated), fromMillis(lastLogin)
	return u, nil
}

// userArgs are u's columns after the id, in userColumns order.
func userArgs(u storage.User) ([]any, error) {
	groups, err := jsonList(u.Groups)
	if err != nil {
		return nil, err
	}
	return []any{u.Email, u.EmailVerified, u.Name, u.Username, groups, u.PasswordHash,
		u.Disabled, u.Static, millis(u.CreatedAt), millis(u.UpdatedAt), millis(u.LastLoginAt)}, nil
}

// CreateUser stores a new user; ErrConflict if the ID or Username is taken.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	args, err := userArgs(u)
	if err != nil {
		return s.fail("create user", err)
	}
	_, err = s.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append([]any{u.ID}, args...)...)
	return s.fail("create user", err)
}

// User returns the user with the given ID.
func (s *Store) User(ctx context.Context, id string) (storage.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, s.fail("read user", err)
}

// UserByUsername returns the user with the given non-empty username.
func (s *Store) UserByUsername(ctx context.Context, username string) (storage.User, error) {
	if username == "" {
		return storage.User{}, s.fail("read user by username", storage.ErrNotFound)
	}
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	return u, s.fail("read user by username", err)
}

// UsersByEmail returns the users with the given (lower-cased) email.
func (s *Store) UsersByEmail(ctx context.Context, email string) ([]storage.User, error) {
	us, err := listRows(ctx, s, scanUser, `SELECT `+userColumns+` FROM users WHERE email = ? ORDER BY id`, email)
	return us, s.fail("list users by email", err)
}

// ListUsers returns every user, ordered by ID.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	us, err := listRows(ctx, s, scanUser, `SELECT `+userColumns+` FROM users ORDER BY id`)
	return us, s.fail("list users", err)
}

// UpdateUser applies fn to the stored user in one transaction. The ID
// cannot change; a taken Username gives ErrConflict.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) error {
	return s.write(ctx, "update user", func(t tx) error {
		u, err := scanUser(t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`+t.forUpdate(), id))
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return &callerError{err}
		}
		u.ID = id
		args, err := userArgs(u)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `UPDATE users SET email = ?, email_verified = ?, name = ?, username = ?,
			groups_json = ?, password_hash = ?, disabled = ?, static = ?, created_at = ?, updated_at = ?,
			last_login_at = ? WHERE id = ?`, append(args, id)...)
		return err
	})
}

// DeleteUser removes a user with its identities and consents.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.write(ctx, "delete user", func(t tx) error {
		if _, err := t.exec(ctx, `DELETE FROM identities WHERE user_id = ?`, id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM consents WHERE user_id = ?`, id); err != nil {
			return err
		}
		return deleteOne(ctx, t, `DELETE FROM users WHERE id = ?`, id)
	})
}

// deleteOne runs a DELETE or UPDATE of one row; ErrNotFound if none.
func deleteOne(ctx context.Context, t tx, query string, args ...any) error {
	res, err := t.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := affected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

const identityColumns = `connector_id, subject, user_id, claims_json, connector_data, linked_at, last_used_at`

func scanIdentity(sc scanner) (storage.Identity, error) {
	var (
		id            storage.Identity
		claims        string
		linked, used  int64
		connectorData []byte
	)
	if err := sc.Scan(&id.ConnectorID, &id.Subject, &id.UserID, &claims, &connectorData, &linked, &used); err != nil {
		return storage.Identity{}, err
	}
	if err := json.Unmarshal([]byte(claims), &id.Claims); err != nil {
		return storage.Identity{}, fmt.Errorf("decode claims: %w", err)
	}
	id.ConnectorData = connectorData
	id.LinkedAt, id.LastUsedAt = fromMillis(linked), fromMillis(used)
	return id, nil
}

func claimsJSON(c storage.Claims) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	return string(b), nil
}

// LinkIdentity stores a new link: ErrConflict if (ConnectorID, Subject) is
// linked already, ErrNotFound if the user does not exist.
func (s *Store) LinkIdentity(ctx context.Context, id storage.Identity) error {
	claims, err := claimsJSON(id.Claims)
	if err != nil {
		return s.fail("link identity", err)
	}
	return s.write(ctx, "link identity", func(t tx) error {
		var one int
		err := t.queryRow(ctx, `SELECT 1 FROM users WHERE id = ?`+t.forUpdate(), id.UserID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %q: %w", id.UserID, storage.ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `INSERT INTO identities (`+identityColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id.ConnectorID, id.Subject, id.UserID, claims, id.ConnectorData, millis(id.LinkedAt), millis(id.LastUsedAt))
		if err != nil && s.d.isForeignKey(err) {
			return fmt.Errorf("user %q: %w", id.UserID, storage.ErrNotFound)
		}
		return err
	})
}

// Identity returns the link of (connectorID, subject).
func (s *Store) Identity(ctx context.Context, connectorID, subject string) (storage.Identity, error) {
	id, err := scanIdentity(s.queryRow(ctx, `SELECT `+identityColumns+` FROM identities
		WHERE connector_id = ? AND subject = ?`, connectorID, subject))
	return id, s.fail("read identity", err)
}

// IdentitiesByUser returns the identities linked to a user.
func (s *Store) IdentitiesByUser(ctx context.Context, userID string) ([]storage.Identity, error) {
	ids, err := listRows(ctx, s, scanIdentity, `SELECT `+identityColumns+` FROM identities
		WHERE user_id = ? ORDER BY connector_id, subject`, userID)
	return ids, s.fail("list identities", err)
}

// UpdateIdentity applies fn in one transaction; the keys and the user
// cannot change.
func (s *Store) UpdateIdentity(ctx context.Context, connectorID, subject string, fn func(*storage.Identity) error) error {
	return s.write(ctx, "update identity", func(t tx) error {
		id, err := scanIdentity(t.queryRow(ctx, `SELECT `+identityColumns+` FROM identities
			WHERE connector_id = ? AND subject = ?`+t.forUpdate(), connectorID, subject))
		if err != nil {
			return err
		}
		userID := id.UserID
		if err := fn(&id); err != nil {
			return &callerError{err}
		}
		id.ConnectorID, id.Subject, id.UserID = connectorID, subject, userID
		claims, err := claimsJSON(id.Claims)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `UPDATE identities SET claims_json = ?, connector_data = ?, linked_at = ?,
			last_used_at = ? WHERE connector_id = ? AND subject = ?`,
			claims, id.ConnectorData, millis(id.LinkedAt), millis(id.LastUsedAt), connectorID, subject)
		return err
	})
}

// UnlinkIdentity removes a link.
func (s *Store) UnlinkIdentity(ctx context.Context, connectorID, subject string) error {
	return s.write(ctx, "unlink identity", func(t tx) error {
		return deleteOne(ctx, t, `DELETE FROM identities WHERE connector_id = ? AND subject = ?`, connectorID, subject)
	})
}
