package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/foyerid/foyer/connectors"
)

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func refreshTokenOf(t *testing.T, id connectors.Identity) string {
	t.Helper()
	var d refreshData
	if err := json.Unmarshal(id.Data, &d); err != nil {
		t.Fatalf("identity data: %v", err)
	}
	return d.RefreshToken
}

// offlineLogin logs in asking for offline access and returns the identity.
func offlineLogin(t *testing.T, op *fakeOP, mod func(*Config)) (*Connector, connectors.Identity) {
	t.Helper()
	c := newConnector(t, op.issuer(), mod)
	id, err := login(t, c, op, connectors.Scopes{OfflineAccess: true, Groups: true})
	if err != nil {
		t.Fatal(err)
	}
	if refreshTokenOf(t, id) == "" {
		t.Fatal("no upstream refresh token kept")
	}
	return c, id
}

var offline = connectors.Scopes{OfflineAccess: true, Groups: true}

func TestRefreshUpdatesClaimsAndRotates(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	c, id := offlineLogin(t, op, nil)
	ctx := context.Background()
	first := refreshTokenOf(t, id)

	op.mu.Lock()
	op.claims["groups"] = []any{"admins", "auditors"}
	op.claims["email_verified"] = false
	op.mu.Unlock()
	fresh, err := c.Refresh(ctx, offline, id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fresh.Groups, []string{"admins", "auditors"}) || fresh.EmailVerified {
		t.Errorf("claims not updated: %+v", fresh)
	}
	second := refreshTokenOf(t, fresh)
	if second == first {
		t.Error("the rotated upstream refresh token was not kept")
	}
	if op.lastForm.Get("grant_type") != "refresh_token" || op.lastForm.Get("refresh_token") != first {
		t.Errorf("upstream refresh request: %v", op.lastForm)
	}
	// The rotated token works; the first one is spent.
	if _, err := c.Refresh(ctx, offline, fresh); err != nil {
		t.Fatalf("refresh with the rotated token: %v", err)
	}
	if _, err := c.Refresh(ctx, offline, id); !errors.Is(err, connectors.ErrIdentityGone) {
		t.Fatalf("a spent upstream token: %v", err)
	}
}

func TestRefreshFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// after the login, before the refresh
		setup func(op *fakeOP, id *connectors.Identity)
		// down closes the provider instead.
		down bool
		gone bool // connectors.ErrIdentityGone, else a plain error
	}{
		{name: "invalid_grant", gone: true, setup: func(op *fakeOP, _ *connectors.Identity) { op.refreshError = "invalid_grant" }},
		{name: "invalid_client is not the account's fault", setup: func(op *fakeOP, _ *connectors.Identity) { op.refreshError = "invalid_client" }},
		{name: "token endpoint 500", setup: func(op *fakeOP, _ *connectors.Identity) {
			op.tokenStatus, op.tokenBody = 500, `{"error":"server_error"}`
		}},
		{name: "upstream unreachable", down: true},
		{name: "refreshed token for another subject", gone: true, setup: func(op *fakeOP, _ *connectors.Identity) { op.claims["sub"] = "u-999" }},
		{name: "refreshed token with another nonce", setup: func(op *fakeOP, _ *connectors.Identity) {
			op.tweak = func(c map[string]any) { c["nonce"] = "other" }
		}},
		{name: "refreshed token expired", setup: func(op *fakeOP, _ *connectors.Identity) {
			op.tweak = func(c map[string]any) { c["exp"] = t0.Add(-1).Unix() }
		}},
		{name: "unreadable data", gone: true, setup: func(_ *fakeOP, id *connectors.Identity) { id.Data = []byte("{") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newOP(t)
			c, id := offlineLogin(t, op, nil)
			if tt.down {
				op.srv.Close()
			} else {
				op.mu.Lock()
				tt.setup(op, &id)
				op.mu.Unlock()
			}
			_, err := c.Refresh(context.Background(), offline, id)
			if err == nil || errors.Is(err, connectors.ErrIdentityGone) != tt.gone {
				t.Fatalf("got %v, want gone=%v", err, tt.gone)
			}
		})
	}
}

func TestRefreshWithoutUpstreamToken(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	op.noRefreshToken = true
	c := newConnector(t, op.issuer(), nil)
	id, err := login(t, c, op, offline)
	if err != nil {
		t.Fatal(err)
	}
	if id.Data != nil {
		t.Fatalf("data without a refresh token: %s", id.Data)
	}
	op.mu.Lock()
	op.lastForm = nil
	op.mu.Unlock()
	fresh, err := c.Refresh(context.Background(), offline, id)
	if err != nil || fresh.Subject != id.Subject || !slices.Equal(fresh.Groups, id.Groups) {
		t.Fatalf("got %+v, %v", fresh, err)
	}
	if op.lastForm != nil {
		t.Fatal("asked the upstream without a refresh token")
	}
}

func TestRefreshWithoutIDToken(t *testing.T) {
	t.Parallel()
	t.Run("claims kept", func(t *testing.T) {
		t.Parallel()
		op := newOP(t)
		op.noIDTokenOnRefresh = true
		c, id := offlineLogin(t, op, nil)
		fresh, err := c.Refresh(context.Background(), offline, id)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.Email != id.Email || !slices.Equal(fresh.Groups, id.Groups) || refreshTokenOf(t, fresh) == refreshTokenOf(t, id) {
			t.Fatalf("got %+v", fresh)
		}
	})
	t.Run("userinfo read instead", func(t *testing.T) {
		t.Parallel()
		op := newOP(t)
		op.noIDTokenOnRefresh = true
		op.userinfo = map[string]any{"sub": "u-123", "groups": []string{"ui"}}
		c, id := offlineLogin(t, op, func(c *Config) { c.GetUserInfo = true })
		fresh, err := c.Refresh(context.Background(), offline, id)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.Subject != "u-123" || !slices.Equal(fresh.Groups, []string{"ui"}) {
			t.Fatalf("got %+v", fresh)
		}
	})
}
