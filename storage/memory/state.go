package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/foyerid/foyer/storage"
)

// liveAuthRequest returns a live auth request, dropping it if it expired.
func (s *Store) liveAuthRequest(id string, now time.Time) (storage.AuthRequest, bool) {
	r, ok := s.authRequests[id]
	if ok && expired(r.ExpiresAt, now) {
		delete(s.authRequests, id)
		return storage.AuthRequest{}, false
	}
	return r, ok
}

// CreateAuthRequest stores a new auth request. ErrConflict if the ID exists.
func (s *Store) CreateAuthRequest(_ context.Context, r storage.AuthRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.liveAuthRequest(r.ID, s.now()); ok {
		return fmt.Errorf("memory: create auth request: %w", storage.ErrConflict)
	}
	s.authRequests[r.ID] = copyAuthRequest(r)
	return nil
}

// AuthRequest returns a live auth request.
func (s *Store) AuthRequest(_ context.Context, id string) (storage.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveAuthRequest(id, s.now())
	if !ok {
		return storage.AuthRequest{}, fmt.Errorf("memory: auth request: %w", storage.ErrNotFound)
	}
	return copyAuthRequest(r), nil
}

// UpdateAuthRequest replaces a live auth request, ExpiresAt included.
func (s *Store) UpdateAuthRequest(_ context.Context, r storage.AuthRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.liveAuthRequest(r.ID, s.now()); !ok {
		return fmt.Errorf("memory: update auth request: %w", storage.ErrNotFound)
	}
	s.authRequests[r.ID] = copyAuthRequest(r)
	return nil
}

// TakeAuthRequest reads and deletes a live auth request in one step.
func (s *Store) TakeAuthRequest(_ context.Context, id string) (storage.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveAuthRequest(id, s.now())
	if !ok {
		return storage.AuthRequest{}, fmt.Errorf("memory: take auth request: %w", storage.ErrNotFound)
	}
	delete(s.authRequests, id)
	return copyAuthRequest(r), nil
}

// liveAuthCode returns a live code, dropping it if it expired.
func (s *Store) liveAuthCode(id string, now time.Time) (authCode, bool) {
	c, ok := s.authCodes[id]
	if ok && expired(c.code.ExpiresAt, now) {
		delete(s.authCodes, id)
		return authCode{}, false
	}
	return c, ok
}

// CreateAuthCode stores a new code. ErrConflict if the ID exists.
func (s *Store) CreateAuthCode(_ context.Context, c storage.AuthCode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.liveAuthCode(c.ID, s.now()); ok {
		return fmt.Errorf("memory: create auth code: %w", storage.ErrConflict)
	}
	s.authCodes[c.ID] = authCode{code: copyAuthCode(c)}
	return nil
}

// RedeemAuthCode marks a code used and returns it; a used code comes back
// with ErrAlreadyUsed until it expires.
func (s *Store) RedeemAuthCode(_ context.Context, id string) (storage.AuthCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.liveAuthCode(id, s.now())
	if !ok {
		return storage.AuthCode{}, fmt.Errorf("memory: redeem auth code: %w", storage.ErrNotFound)
	}
	if c.used {
		return copyAuthCode(c.code), fmt.Errorf("memory: redeem auth code: %w", storage.ErrAlreadyUsed)
	}
	c.used = true
	s.authCodes[id] = c
	return copyAuthCode(c.code), nil
}

// liveDevice returns a live device request, dropping it if it expired.
func (s *Store) liveDevice(id string, now time.Time) (storage.DeviceRequest, bool) {
	d, ok := s.devices[id]
	if ok && expired(d.ExpiresAt, now) {
		s.dropDevice(id)
		return storage.DeviceRequest{}, false
	}
	return d, ok
}

// dropDevice deletes a device request and its user code.
func (s *Store) dropDevice(id string) {
	if d, ok := s.devices[id]; ok && s.userCodes[d.UserCode] == id {
		delete(s.userCodes, d.UserCode)
	}
	delete(s.devices, id)
}

// userCodeTaken reports whether a live request other than self holds code.
func (s *Store) userCodeTaken(code, self string, now time.Time) bool {
	id, ok := s.userCodes[code]
	if !ok || id == self {
		return false
	}
	_, live := s.liveDevice(id, now)
	return live
}

// CreateDeviceRequest stores a new device request. ErrConflict if the ID or
// a live user code exists.
func (s *Store) CreateDeviceRequest(_ context.Context, d storage.DeviceRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if _, ok := s.liveDevice(d.ID, now); ok {
		return fmt.Errorf("memory: create device request: %w", storage.ErrConflict)
	}
	if s.userCodeTaken(d.UserCode, d.ID, now) {
		return fmt.Errorf("memory: create device request: user code: %w", storage.ErrConflict)
	}
	s.devices[d.ID] = copyDevice(d)
	s.userCodes[d.UserCode] = d.ID
	return nil
}

// DeviceRequestByUserCode returns the live request with this user code.
func (s *Store) DeviceRequestByUserCode(_ context.Context, userCode string) (storage.DeviceRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.userCodes[userCode]
	var d storage.DeviceRequest
	if ok {
		d, ok = s.liveDevice(id, s.now())
	}
	if !ok {
		return storage.DeviceRequest{}, fmt.Errorf("memory: device request by user code: %w", storage.ErrNotFound)
	}
	return copyDevice(d), nil
}

// UpdateDeviceRequest replaces a live device request. ErrConflict if its
// user code changes to one another live request holds.
func (s *Store) UpdateDeviceRequest(_ context.Context, d storage.DeviceRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	old, ok := s.liveDevice(d.ID, now)
	if !ok {
		return fmt.Errorf("memory: update device request: %w", storage.ErrNotFound)
	}
	if d.UserCode != old.UserCode {
		if s.userCodeTaken(d.UserCode, d.ID, now) {
			return fmt.Errorf("memory: update device request: user code: %w", storage.ErrConflict)
		}
		if s.userCodes[old.UserCode] == d.ID {
			delete(s.userCodes, old.UserCode)
		}
		s.userCodes[d.UserCode] = d.ID
	}
	s.devices[d.ID] = copyDevice(d)
	return nil
}

// ClaimDeviceCode claims an approved, unclaimed request; see
// storage.DeviceRequests.
func (s *Store) ClaimDeviceCode(_ context.Context, id string) (storage.DeviceRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.liveDevice(id, s.now())
	if !ok {
		return storage.DeviceRequest{}, fmt.Errorf("memory: claim device code: %w", storage.ErrNotFound)
	}
	if d.Claimed {
		return copyDevice(d), fmt.Errorf("memory: claim device code: %w", storage.ErrAlreadyUsed)
	}
	if d.Status == storage.DeviceApproved {
		d.Claimed = true
		s.devices[id] = d
	}
	return copyDevice(d), nil
}

// Remember stores key until expiresAt. ErrConflict if it is remembered and
// not expired.
func (s *Store) Remember(_ context.Context, key string, expiresAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.replay[key]; ok && !expired(exp, s.now()) {
		return fmt.Errorf("memory: remember: %w", storage.ErrConflict)
	}
	s.replay[key] = expiresAt
	return nil
}

// Hit adds one to key's counter for the window of the given length that
// contains now, windows being aligned on the Unix epoch, and returns the
// count after adding.
func (s *Store) Hit(_ context.Context, key string, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, fmt.Errorf("memory: hit %q: window %v is not positive", key, window)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ns := now.UnixNano()
	off := ns % int64(window)
	if off < 0 {
		off += int64(window)
	}
	start := time.Unix(0, ns-off)
	k := rateKey{key, window}
	w, ok := s.rates[k]
	if !ok || !w.start.Equal(start) {
		w = rateWindow{start: start, end: start.Add(window)}
	}
	w.count++
	s.rates[k] = w
	return w.count, nil
}

// KeySet returns the stored key set; ErrNotFound if none was stored.
func (s *Store) KeySet(context.Context) (storage.KeySet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keySet == nil {
		return storage.KeySet{}, fmt.Errorf("memory: key set: %w", storage.ErrNotFound)
	}
	return copyKeySet(*s.keySet), nil
}

// SwapKeySet stores next as version expect+1 if the stored version is expect
// (0: nothing stored). ErrConflict otherwise.
func (s *Store) SwapKeySet(_ context.Context, expect int64, next storage.KeySet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur int64
	if s.keySet != nil {
		cur = s.keySet.Version
	}
	if cur != expect {
		return fmt.Errorf("memory: swap key set: version %d, expected %d: %w", cur, expect, storage.ErrConflict)
	}
	ks := copyKeySet(next)
	ks.Version = expect + 1
	s.keySet = &ks
	return nil
}

// AcquireLease takes or renews the lease for holder until now+ttl; false if
// another holder has it.
func (s *Store) AcquireLease(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if l, ok := s.leases[name]; ok && l.holder != holder && !expired(l.expiresAt, now) {
		return false, nil
	}
	s.leases[name] = lease{holder: holder, expiresAt: now.Add(ttl)}
	return true, nil
}

// ReleaseLease frees the lease if holder has it; otherwise it does nothing.
func (s *Store) ReleaseLease(_ context.Context, name, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.holder == holder {
		delete(s.leases, name)
	}
	return nil
}
