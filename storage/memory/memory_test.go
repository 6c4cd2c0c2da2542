package memory_test

import (
	"errors"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

func TestSmoke(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := memory.New(memory.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	if err := s.CreateAuthCode(ctx, storage.AuthCode{ID: "c", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemAuthCode(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemAuthCode(ctx, "c"); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Fatalf("second redeem: %v, want ErrAlreadyUsed", err)
	}
	now = now.Add(time.Minute)
	if _, err := s.RedeemAuthCode(ctx, "c"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("expired redeem: %v, want ErrNotFound", err)
	}
}
