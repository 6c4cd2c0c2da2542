package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/foyerid/foyer/storage"
)

// Session-kind records are stored as JSON in a data column beside the
// columns their lookups need. A record is live while expires_at > now, now
// being the injected clock's; expired rows read as not found until Sweep
// removes them.

// readLive decodes the data of the live row of table whose column col is
// key. table and col are constants of this package.
func (s *Store) readLive(ctx context.Context, table, col, key string, v any) error {
	var data []byte
	err := s.queryRow(ctx, `SELECT data FROM `+table+` WHERE `+col+` = ? AND expires_at > ?`,
		key, s.nowMillis()).Scan(&data)
	if err != nil {
		return err
	}
	return decode(data, v)
}

// readLiveTx is readLive inside a write transaction, locking the row.
func (t tx) readLive(ctx context.Context, table, key string, v any) error {
	var data []byte
	err := t.queryRow(ctx, `SELECT data FROM `+table+` WHERE id = ? AND expires_at > ?`+t.forUpdate(),
		key, t.s.nowMillis()).Scan(&data)
	if err != nil {
		return err
	}
	return decode(data, v)
}

// dropExpired deletes an expired row of table with the given id, so that
// a create may reuse the id of a record that only the sweep has not yet
// removed.
func (t tx) dropExpired(ctx context.Context, table, id string) error {
	_, err := t.exec(ctx, `DELETE FROM `+table+` WHERE id = ? AND expires_at <= ?`, id, t.s.nowMillis())
	return err
}

// updateLive replaces the data of a live row; ErrNotFound if there is none.
func (s *Store) updateLive(ctx context.Context, op, table, id string, expiresAt int64, v any) error {
	data, err := encode(v)
	if err != nil {
		return s.fail(op, err)
	}
	return s.write(ctx, op, func(t tx) error {
		return deleteOne(ctx, t, `UPDATE `+table+` SET expires_at = ?, data = ? WHERE id = ? AND expires_at > ?`,
			expiresAt, data, id, s.nowMillis())
	})
}

// CreateAuthRequest stores a new auth request; ErrConflict if the ID exists.
func (s *Store) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	data, err := encode(r)
	if err != nil {
		return s.fail("create auth request", err)
	}
	return s.write(ctx, "create auth request", func(t tx) error {
		if err := t.dropExpired(ctx, "auth_requests", r.ID); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO auth_requests (id, expires_at, data) VALUES (?, ?, ?)`,
			r.ID, millis(r.ExpiresAt), data)
		return err
	})
}

// AuthRequest returns a live auth request.
func (s *Store) AuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	var r storage.AuthRequest
	if err := s.readLive(ctx, "auth_requests", "id", id, &r); err != nil {
		return storage.AuthRequest{}, s.fail("read auth request", err)
	}
	return r, nil
}

// UpdateAuthRequest replaces a live auth request.
func (s *Store) UpdateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	return s.updateLive(ctx, "update auth request", "auth_requests", r.ID, millis(r.ExpiresAt), r)
}

// TakeAuthRequest reads and deletes a live auth request in one statement:
// of concurrent callers, one gets it.
func (s *Store) TakeAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	var r storage.AuthRequest
	err := s.write(ctx, "take auth request", func(t tx) error {
		var data []byte
		err := t.queryRow(ctx, `DELETE FROM auth_requests WHERE id = ? AND expires_at > ? RETURNING data`,
			id, s.nowMillis()).Scan(&data)
		if err != nil {
			return err
		}
		return decode(data, &r)
	})
	if err != nil {
		return storage.AuthRequest{}, err
	}
	return r, nil
}

// CreateAuthCode stores a new authorization code; ErrConflict if the ID
// exists.
func (s *Store) CreateAuthCode(ctx context.Context, c storage.AuthCode) error {
	data, err := encode(c)
	if err != nil {
		return s.fail("create auth code", err)
	}
	return s.write(ctx, "create auth code", func(t tx) error {
		if err := t.dropExpired(ctx, "auth_codes", c.ID); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO auth_codes (id, used, expires_at, data) VALUES (?, ?, ?, ?)`,
			c.ID, false, millis(c.ExpiresAt), data)
		return err
	})
}

// RedeemAuthCode marks a live code used and returns it. The conditional
// UPDATE is the atomic step: of concurrent callers exactly one changes the
// row; the others, and later callers, find it used and get ErrAlreadyUsed
// with the code.
func (s *Store) RedeemAuthCode(ctx context.Context, id string) (storage.AuthCode, error) {
	var (
		c       storage.AuthCode
		outcome error
	)
	err := s.write(ctx, "redeem auth code", func(t tx) error {
		now := s.nowMillis()
		var data []byte
		err := t.queryRow(ctx, `UPDATE auth_codes SET used = ? WHERE id = ? AND used = ? AND expires_at > ?
			RETURNING data`, true, id, false, now).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			err = t.queryRow(ctx, `SELECT data FROM auth_codes WHERE id = ? AND expires_at > ?`, id, now).Scan(&data)
			outcome = storage.ErrAlreadyUsed
		}
		if err != nil {
			return err
		}
		return decode(data, &c)
	})
	if err != nil {
		return storage.AuthCode{}, err
	}
	if outcome != nil {
		return c, s.fail("redeem auth code", outcome)
	}
	return c, nil
}

// CreateDeviceRequest stores a new device request; ErrConflict if the ID
// or the user code of a live request exists.
func (s *Store) CreateDeviceRequest(ctx context.Context, d storage.DeviceRequest) error {
	data, err := encode(d)
	if err != nil {
		return s.fail("create device request", err)
	}
	return s.write(ctx, "create device request", func(t tx) error {
		if _, err := t.exec(ctx, `DELETE FROM device_requests WHERE (id = ? OR user_code = ?) AND expires_at <= ?`,
			d.ID, d.UserCode, s.nowMillis()); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO device_requests (id, user_code, expires_at, data) VALUES (?, ?, ?, ?)`,
			d.ID, d.UserCode, millis(d.ExpiresAt), data)
		return err
	})
}

// DeviceRequestByUserCode returns the live device request with a user code.
func (s *Store) DeviceRequestByUserCode(ctx context.Context, userCode string) (storage.DeviceRequest, error) {
	var d storage.DeviceRequest
	if err := s.readLive(ctx, "device_requests", "user_code", userCode, &d); err != nil {
		return storage.DeviceRequest{}, s.fail("read device request", err)
	}
	return d, nil
}

// UpdateDeviceRequest replaces a live device request.
func (s *Store) UpdateDeviceRequest(ctx context.Context, d storage.DeviceRequest) error {
	data, err := encode(d)
	if err != nil {
		return s.fail("update device request", err)
	}
	return s.write(ctx, "update device request", func(t tx) error {
		if _, err := t.exec(ctx, `DELETE FROM device_requests WHERE user_code = ? AND id <> ? AND expires_at <= ?`,
			d.UserCode, d.ID, s.nowMillis()); err != nil {
			return err
		}
		return deleteOne(ctx, t, `UPDATE device_requests SET user_code = ?, expires_at = ?, data = ?
			WHERE id = ? AND expires_at > ?`, d.UserCode, millis(d.ExpiresAt), data, d.ID, s.nowMillis())
	})
}

// ClaimDeviceCode is the token endpoint's poll: an approved, unclaimed
// request becomes claimed in the same transaction that read it.
func (s *Store) ClaimDeviceCode(ctx context.Context, id string) (storage.DeviceRequest, error) {
	var (
		d       storage.DeviceRequest
		outcome error
	)
	err := s.write(ctx, "claim device code", func(t tx) error {
		if err := t.readLive(ctx, "device_requests", id, &d); err != nil {
			return err
		}
		switch {
		case d.Claimed:
			outcome = storage.ErrAlreadyUsed
			return nil
		case d.Status != storage.DeviceApproved:
			return nil
		}
		d.Claimed = true
		data, err := encode(d)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `UPDATE device_requests SET data = ? WHERE id = ?`, data, id)
		return err
	})
	if err != nil {
		return storage.DeviceRequest{}, err
	}
	if outcome != nil {
		return d, s.fail("claim device code", outcome)
	}
	return d, nil
}
