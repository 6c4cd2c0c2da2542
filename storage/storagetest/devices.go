package storagetest

import (
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func testDeviceRequests(t *testing.T, open openState) {
	const ttl = 10 * time.Minute
	approve := func(c *Clock, d storage.DeviceRequest) storage.DeviceRequest {
		login := fullLogin(c, "u1", "")
		d.Status, d.Login = storage.DeviceApproved, &login
		return d
	}
	t.Run("create and read back every field", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		want := approve(c, fullDevice(c, "dc1", "ABCD-EFGH", ttl))
		mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, want))
		got, err := s.DeviceRequestByUserCode(ctx, "ABCD-EFGH")
		mustOK(t, "DeviceRequestByUserCode", err)
		assertEqual(t, "DeviceRequestByUserCode", want, got)
	})
	t.Run("duplicate ID or live user code is a conflict", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, fullDevice(c, "dc1", "AAAA-AAAA", ttl)))
		wantErr(t, "same ID", s.CreateDeviceRequest(ctx, fullDevice(c, "dc1", "BBBB-BBBB", ttl)), storage.ErrConflict)
		wantErr(t, "same user code", s.CreateDeviceRequest(ctx, fullDevice(c, "dc2", "AAAA-AAAA", ttl)), storage.ErrConflict)
		_, err := s.DeviceRequestByUserCode(ctx, "BBBB-BBBB")
		wantErr(t, "user code of a refused request", err, storage.ErrNotFound)
		mustOK(t, "CreateDeviceRequest another", s.CreateDeviceRequest(ctx, fullDevice(c, "dc2", "BBBB-BBBB", ttl)))
		d := fullDevice(c, "dc2", "AAAA-AAAA", ttl)
		wantErr(t, "update to a taken user code", s.UpdateDeviceRequest(ctx, d), storage.ErrConflict)
		got, err := s.DeviceRequestByUserCode(ctx, "AAAA-AAAA")
		mustOK(t, "DeviceRequestByUserCode", err)
		if got.ID != "dc1" {
			t.Errorf("user code AAAA-AAAA moved to %q", got.ID)
		}
	})
	t.Run("an expired request's user code is free", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, fullDevice(c, "dc1", "AAAA-AAAA", ttl)))
		c.Advance(ttl)
		want := fullDevice(c, "dc2", "AAAA-AAAA", ttl)
		mustOK(t, "CreateDeviceRequest reusing the code", s.CreateDeviceRequest(ctx, want))
		got, err := s.DeviceRequestByUserCode(ctx, "AAAA-AAAA")
		mustOK(t, "DeviceRequestByUserCode", err)
		assertEqual(t, "new owner of the code", want, got)
	})
	t.Run("an approved request is claimed once", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		d := fullDevice(c, "dc1", "AAAA-AAAA", ttl)
		mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, d))
		d = approve(c, d)
		mustOK(t, "UpdateDeviceRequest", s.UpdateDeviceRequest(ctx, d))
		got, err := s.ClaimDeviceCode(ctx, "dc1")
		mustOK(t, "ClaimDeviceCode", err)
		d.Claimed = true
		assertEqual(t, "claimed request", d, got)
		got, err = s.DeviceRequestByUserCode(ctx, "AAAA-AAAA")
		mustOK(t, "DeviceRequestByUserCode", err)
		assertEqual(t, "stored request", d, got)
		for range 2 {
			got, err = s.ClaimDeviceCode(ctx, "dc1")
			wantErr(t, "ClaimDeviceCode again", err, storage.ErrAlreadyUsed)
			assertEqual(t, "request returned beside ErrAlreadyUsed", d, got)
		}
	})
	t.Run("pending and denied requests are returned unchanged", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		pending := fullDevice(c, "pending", "PPPP-PPPP", ttl)
		denied := fullDevice(c, "denied", "DDDD-DDDD", ttl)
		mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, pending))
		mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, denied))
		denied.Status = storage.DeviceDenied
		mustOK(t, "UpdateDeviceRequest", s.UpdateDeviceRequest(ctx, denied))
		for _, want := range []storage.DeviceRequest{pending, denied} {
			for range 2 {
				got, err := s.ClaimDeviceCode(ctx, want.ID)
				mustOK(t, "ClaimDeviceCode "+want.ID, err)
				assertEqual(t, "ClaimDeviceCode "+want.ID, want, got)
			}
			got, err := s.DeviceRequestByUserCode(ctx, want.UserCode)
			mustOK(t, "DeviceRequestByUserCode", err)
			assertEqual(t, "stored "+want.ID, want, got)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		d := approve(c, fullDevice(c, "dc1", "AAAA-AAAA", ttl))
		mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, d))
		c.Advance(ttl - ms)
		_, err := s.DeviceRequestByUserCode(ctx, "AAAA-AAAA")
		mustOK(t, "DeviceRequestByUserCode just before ExpiresAt", err)
		c.Advance(ms)
		_, err = s.DeviceRequestByUserCode(ctx, "AAAA-AAAA")
		wantErr(t, "DeviceRequestByUserCode at ExpiresAt", err, storage.ErrNotFound)
		wantErr(t, "UpdateDeviceRequest at ExpiresAt", s.UpdateDeviceRequest(ctx, d), storage.ErrNotFound)
		_, err = s.ClaimDeviceCode(ctx, "dc1")
		wantErr(t, "ClaimDeviceCode at ExpiresAt", err, storage.ErrNotFound)
	})
	t.Run("claimable until just before ExpiresAt", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		mustOK(t, "CreateDeviceRequest", s.CreateDeviceRequest(ctx, approve(c, fullDevice(c, "dc1", "AAAA-AAAA", ttl))))
		c.Advance(ttl - ms)
		_, err := s.ClaimDeviceCode(ctx, "dc1")
		mustOK(t, "ClaimDeviceCode just before ExpiresAt", err)
	})
	t.Run("missing request is not found", func(t *testing.T) {
		s, c := open(t)
		ctx := t.Context()
		_, err := s.DeviceRequestByUserCode(ctx, "NONE-NONE")
		wantErr(t, "DeviceRequestByUserCode", err, storage.ErrNotFound)
		wantErr(t, "UpdateDeviceRequest", s.UpdateDeviceRequest(ctx, fullDevice(c, "nothing", "NONE-NONE", ttl)), storage.ErrNotFound)
		_, err = s.ClaimDeviceCode(ctx, "nothing")
		wantErr(t, "ClaimDeviceCode", err, storage.ErrNotFound)
		_, err = s.DeviceRequestByUserCode(ctx, "NONE-NONE")
		wantErr(t, "DeviceRequestByUserCode after refused update", err, storage.ErrNotFound)
	})
}
