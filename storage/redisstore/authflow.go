package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/foyerid/foyer/storage"
	"github.com/redis/go-redis/v9"
)

func (s *Store) authRequestKey(id string) string { return s.key("authreq", id) }
func (s *Store) authCodeKey(id string) string    { return s.key("code", id) }
func (s *Store) deviceKey(id string) string      { return s.key("device", id) }
func (s *Store) userCodeKey(code string) string  { return s.key("usercode", code) }

// create stores a record with a plain expiry: ErrConflict if a live one
// has the key.
func (s *Store) create(ctx context.Context, op, key string, v any, exp time.Time) error {
	now := s.now()
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	rec := record{x: ms(exp), doc: string(doc)}
	ok, err := eval(ctx, s.rdb, createScript, []string{key}, ms(now), ttl(exp, now), rec.encode())
	if err != nil {
		return fail(op, err)
	}
	if ok != int64(1) {
		return fmt.Errorf("redisstore: %s: %w", op, storage.ErrConflict)
	}
	return nil
}

// replace overwrites a live record with a plain expiry: ErrNotFound if it
// is gone or expired.
func (s *Store) replace(ctx context.Context, op, key string, v any, exp time.Time) error {
	now := s.now()
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	rec := record{x: ms(exp), doc: string(doc)}
	ok, err := eval(ctx, s.rdb, replaceScript, []string{key}, ms(now), ttl(exp, now), rec.encode())
	if err != nil {
		return fail(op, err)
	}
	if ok != int64(1) {
		return fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// read returns a live record.
func read[T any](ctx context.Context, s *Store, op, key string) (T, error) {
	var zero T
	rec, ok, err := s.fetch(ctx, key, s.now())
	if err != nil {
		return zero, fail(op, err)
	}
	if !ok {
		return zero, fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	}
	return decode[T](op, rec.doc)
}

// CreateAuthRequest stores a new auth request. ErrConflict if a live one
// has the ID.
func (s *Store) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	return s.create(ctx, "create auth request", s.authRequestKey(r.ID), r, r.ExpiresAt)
}

// AuthRequest returns a live auth request.
func (s *Store) AuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	return read[storage.AuthRequest](ctx, s, "auth request", s.authRequestKey(id))
}

// UpdateAuthRequest replaces a live auth request, ExpiresAt included.
func (s *Store) UpdateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	return s.replace(ctx, "update auth request", s.authRequestKey(r.ID), r, r.ExpiresAt)
}

// TakeAuthRequest reads and deletes a live auth request in one step.
func (s *Store) TakeAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	const op = "take auth request"
	v, err := eval(ctx, s.rdb, takeScript, []string{s.authRequestKey(id)}, ms(s.now()))
	if err != nil {
		return storage.AuthRequest{}, fail(op, err)
	}
	doc, ok := v.(string)
	if !ok {
		return storage.AuthRequest{}, fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	}
	return decode[storage.AuthRequest](op, doc)
}

// CreateAuthCode stores a new code. ErrConflict if a live one, used or
// not, has the ID.
func (s *Store) CreateAuthCode(ctx context.Context, c storage.AuthCode) error {
	return s.create(ctx, "create auth code", s.authCodeKey(c.ID), c, c.ExpiresAt)
}

// RedeemAuthCode marks a code used and returns it; a used code comes back
// with ErrAlreadyUsed until it expires.
func (s *Store) RedeemAuthCode(ctx context.Context, id string) (storage.AuthCode, error) {
	const op = "redeem auth code"
	w := s.waiter()
	v, err := w.eval(ctx, redeemScript, []string{s.authCodeKey(id)}, wroteIf(int64(0)), ms(s.now()))
	w.done(ctx, op)
	if err != nil {
		return storage.AuthCode{}, fail(op, err)
	}
	tag, doc := reply(v)
	if doc == "" {
		return storage.AuthCode{}, fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	}
	c, err := decode[storage.AuthCode](op, doc)
	if err != nil {
		return storage.AuthCode{}, err
	}
	if tag != int64(0) {
		return c, fmt.Errorf("redisstore: %s: %w", op, storage.ErrAlreadyUsed)
	}
	return c, nil
}

// device returns a live device request, if any.
func (s *Store) device(ctx context.Context, op, id string, now time.Time) (storage.DeviceRequest, bool, error) {
	rec, ok, err := s.fetch(ctx, s.deviceKey(id), now)
	if err != nil || !ok {
		return storage.DeviceRequest{}, false, err
	}
	d, err := decode[storage.DeviceRequest](op, rec.doc)
	return d, err == nil, err
}

// userCodeHeld says whether the device request a user-code entry names
// still holds code: live at now, with that user code.
func (s *Store) userCodeHeld(now time.Time, code string) func(context.Context, string) (bool, error) {
	return func(ctx context.Context, id string) (bool, error) {
		d, ok, err := s.device(ctx, "claim user code", id, now)
		return ok && d.UserCode == code, err
	}
}

// CreateDeviceRequest stores a new device request. ErrConflict if a live
// one has the ID or the user code. The request is written first, then its
// user code claimed; if the code is taken the request is deleted again.
func (s *Store) CreateDeviceRequest(ctx context.Context, d storage.DeviceRequest) error {
	const op = "create device request"
	now := s.now()
	dk := s.deviceKey(d.ID)
	if err := s.create(ctx, op, dk, d, d.ExpiresAt); err != nil {
		return err
	}
	_, err := s.claim(ctx, s.userCodeKey(d.UserCode), d.ID, ttl(d.ExpiresAt, now), s.userCodeHeld(now, d.UserCode))
	if err != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.rdb.Del(ctx, dk).Err()
		return fail(op+": user code", err)
	}
	return nil
}

// DeviceRequestByUserCode returns the live request with this user code.
func (s *Store) DeviceRequestByUserCode(ctx context.Context, userCode string) (storage.DeviceRequest, error) {
	const op = "device request by user code"
	notFound := fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	now := s.now()
	id, err := s.rdb.Get(ctx, s.userCodeKey(userCode)).Result()
	if errors.Is(err, redis.Nil) {
		return storage.DeviceRequest{}, notFound
	}
	if err != nil {
		return storage.DeviceRequest{}, fail(op, err)
	}
	d, ok, err := s.device(ctx, op, id, now)
	if err != nil {
		return storage.DeviceRequest{}, fail(op, err)
	}
	if !ok || d.UserCode != userCode {
		return storage.DeviceRequest{}, notFound
	}
	return d, nil
}

// UpdateDeviceRequest replaces a live device request. ErrConflict if its
// user code changes to one another live request holds.
func (s *Store) UpdateDeviceRequest(ctx context.Context, d storage.DeviceRequest) error {
	const op = "update device request"
	now := s.now()
	old, ok, err := s.device(ctx, op, d.ID, now)
	if err != nil {
		return fail(op, err)
	}
	if !ok {
		return fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	}
	// Claim the code (or renew the claim, ExpiresAt may have moved)
	// before the request names it.
	ck := s.userCodeKey(d.UserCode)
	claimed, err := s.claim(ctx, ck, d.ID, ttl(d.ExpiresAt, now), s.userCodeHeld(now, d.UserCode))
	if err != nil {
		return fail(op+": user code", err)
	}
	if err := s.replace(ctx, op, s.deviceKey(d.ID), d, d.ExpiresAt); err != nil {
		// Release only when the request surely did not take the code:
		// after a lost reply it may have.
		if claimed && errors.Is(err, storage.ErrNotFound) {
			s.release(ctx, d.ID, ck)
		}
		return err
	}
	if old.UserCode != d.UserCode {
		s.release(ctx, d.ID, s.userCodeKey(old.UserCode))
	}
	return nil
}

// ClaimDeviceCode claims an approved, unclaimed request; see
// storage.DeviceRequests.
func (s *Store) ClaimDeviceCode(ctx context.Context, id string) (storage.DeviceRequest, error) {
	const op = "claim device code"
	w := s.waiter()
	v, err := w.eval(ctx, claimDeviceScript, []string{s.deviceKey(id)}, wroteIf(int64(2)),
		ms(s.now()), storage.DeviceApproved)
	w.done(ctx, op)
	if err != nil {
		return storage.DeviceRequest{}, fail(op, err)
	}
	tag, doc := reply(v)
	if doc == "" {
		return storage.DeviceRequest{}, fmt.Errorf("redisstore: %s: %w", op, storage.ErrNotFound)
	}
	d, err := decode[storage.DeviceRequest](op, doc)
	if err != nil {
		return storage.DeviceRequest{}, err
	}
	if tag == int64(1) {
		return d, fmt.Errorf("redisstore: %s: %w", op, storage.ErrAlreadyUsed)
	}
	return d, nil
}

// Remember stores key until expiresAt. ErrConflict if it is remembered and
// not expired.
func (s *Store) Remember(ctx context.Context, key string, expiresAt time.Time) error {
	const op = "remember"
	now := s.now()
	v, err := eval(ctx, s.rdb, rememberScript, []string{s.key("replay", key)},
		ms(now), ms(expiresAt), ttl(expiresAt, now))
	if err != nil {
		return fail(op, err)
	}
	if v != int64(1) {
		return fmt.Errorf("redisstore: %s: %w", op, storage.ErrConflict)
	}
	return nil
}

// Hit adds one to key's counter for the window of the given length that
// contains now, windows being aligned on the Unix epoch, and returns the
// count after adding. Each window is a counter of its own, which Redis
// drops once the window is over.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration) (int64, error) {
	const op = "hit"
	if window <= 0 {
		return 0, fmt.Errorf("redisstore: %s %q: window %v is not positive", op, key, window)
	}
	now := s.now()
	ns := now.UnixNano()
	off := ns % int64(window)
	if off < 0 {
		off += int64(window)
	}
	start := ns - off
	end := time.Unix(0, start).Add(window)
	k := s.key("rate", key) + ":" + strconv.FormatInt(int64(window), 10) + ":" + strconv.FormatInt(start, 10)
	v, err := eval(ctx, s.rdb, hitScript, []string{k}, ttl(end, now))
	if err != nil {
		return 0, fail(op, err)
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("redisstore: %s: unexpected reply %v", op, v)
	}
	return n, nil
}
