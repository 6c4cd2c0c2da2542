package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors"
)

func TestCapBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "chunked") // no Content-Length
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	}))
	defer srv.Close()
	for _, tt := range []struct {
		name  string
		limit int64
		ok    bool
	}{{"under", 101, true}, {"exact", 100, true}, {"over", 99, false}} {
		resp, err := cappedClient(nil, tt.limit).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := readAll(resp)
		if tt.ok != (err == nil) || (tt.ok && len(b) != 100) || (!tt.ok && !errors.Is(err, errTooLarge)) {
			t.Errorf("%s: %d bytes, %v", tt.name, len(b), err)
		}
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("unreachable, then a login fails and the next one tries again", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		c := newConnector(t, "http://"+addr, nil) // Open does no I/O
		if _, _, err := c.LoginURL(ctx, connectors.Scopes{}, testCallback, "s"); err == nil {
			t.Fatal("login with an unreachable upstream")
		}
		if _, err := c.HandleCallback(ctx, connectors.Scopes{}, mustState(t), httptest.NewRequest("GET", testCallback+"?code=c", nil)); err == nil {
			t.Fatal("callback with an unreachable upstream")
		}
	})
	t.Run("down, then back up", func(t *testing.T) {
		t.Parallel()
		op := newOP(t)
		op.down = true
		c := newConnector(t, op.issuer(), nil)
		if _, _, err := c.LoginURL(ctx, connectors.Scopes{}, testCallback, "s"); err == nil {
			t.Fatal("login while the upstream is down")
		}
		op.mu.Lock()
		op.down = false
		op.mu.Unlock()
		if _, err := login(t, c, op, connectors.Scopes{}); err != nil {
			t.Fatalf("no retry once the upstream is back: %v", err)
		}
	})
	t.Run("discovered issuer differs", func(t *testing.T) {
		t.Parallel()
		op := newOP(t)
		op.discoveryIssuer = op.issuer() + "/"
		c := newConnector(t, op.issuer(), nil)
		if _, _, err := c.LoginURL(ctx, connectors.Scopes{}, testCallback, "s"); err == nil {
			t.Fatal("accepted a discovery document for another issuer")
		}
	})
	t.Run("hanging upstream times out", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		c, err := Open(Config{Issuer: srv.URL, ClientID: "x", ClientSecret: "y"},
			connectors.Env{CallbackURL: testCallback, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.LoginURL(ctx, connectors.Scopes{}, testCallback, "s"); err == nil {
			t.Fatal("no timeout")
		}
	})
	t.Run("caller gives up", func(t *testing.T) {
		t.Parallel()
		op := newOP(t)
		c := newConnector(t, op.issuer(), nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := c.LoginURL(cctx, connectors.Scopes{}, testCallback, "s"); !errors.Is(err, context.Canceled) {
			// The shared attempt may also have finished first.
			if err != nil {
				t.Fatalf("got %v", err)
			}
		}
	})
}

func mustState(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(loginState{Verifier: "v", Nonce: "n", RedirectURI: testCallback})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
