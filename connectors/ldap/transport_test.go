package ldap

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/internal/config"
)

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := directory(t)
	_, tlsPort, _ := net.SplitHostPort(s.TLSAddr)
	wrongCA := newCAPEM() // signed nothing the directory serves

	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr bool // ErrUnavailable
	}{
		{name: "LDAPS with rootCAData", edit: func(*Config) {}},
		{name: "LDAPS with a rootCA file", edit: func(c *Config) { c.RootCAData, c.RootCA = "", s.CAFile }},
		{name: "LDAPS by host name", edit: func(c *Config) { c.Hosts = []string{"localhost:" + tlsPort} }},
		{name: "StartTLS", edit: func(c *Config) { c.Hosts, c.StartTLS = []string{s.Addr}, true }},
		{name: "plain LDAP when insecureNoTLS", edit: func(c *Config) { c.Hosts, c.InsecureNoTLS, c.RootCAData = []string{s.Addr}, true, "" }},
		{name: "insecureSkipVerify takes any certificate", edit: func(c *Config) { c.RootCAData, c.InsecureSkipVerify = wrongCA, true }},
		{name: "LDAPS with the wrong CA", edit: func(c *Config) { c.RootCAData = wrongCA }, wantErr: true},
		{name: "LDAPS with the system roots", edit: func(c *Config) { c.RootCAData = "" }, wantErr: true},
		{name: "StartTLS with the wrong CA", edit: func(c *Config) { c.Hosts, c.StartTLS, c.RootCAData = []string{s.Addr}, true, wrongCA }, wantErr: true},
		{name: "LDAPS to the plain port", edit: func(c *Config) { c.Hosts = []string{s.Addr} }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(s)
			tt.edit(&cfg)
			c, _ := open(t, cfg)
			id, ok, err := c.Login(context.Background(), connectors.Scopes{}, "alice", "alice-pw")
			if tt.wantErr {
				if ok || !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Login = %v, %v; want ErrUnavailable", ok, err)
				}
				return
			}
			if err != nil || !ok || id.Username != "alice" {
				t.Fatalf("Login = %v, %v", ok, err)
			}
		})
	}
}

// The availability tests stop and pause the directory, so they run in
// order on one slapd of their own.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	s := directory(t)
	const bound = 5 * time.Second // far above the timeouts below: not a hang
	fast := testConfig(s)
	fast.Timeouts = Timeouts{Connect: config.Duration(300 * time.Millisecond), Request: config.Duration(300 * time.Millisecond)}
	c, _ := open(t, fast)
	alice := login(t, c, "alice", "alice-pw")

	t.Run("stopped, then started", func(t *testing.T) {
		s.Stop(t)
		start := time.Now()
		_, ok, err := c.Login(context.Background(), connectors.Scopes{}, "alice", "alice-pw")
		if ok || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Login with the directory down = %v, %v; want ErrUnavailable", ok, err)
		}
		if _, err := refresh(c, alice); !errors.Is(err, ErrUnavailable) || errors.Is(err, connectors.ErrIdentityGone) {
			t.Fatalf("Refresh with the directory down: err = %v; want ErrUnavailable", err)
		}
		t.Logf("err: %v", err)
		if d := time.Since(start); d > bound {
			t.Fatalf("took %v", d)
		}
		s.Start(t)
		login(t, c, "alice", "alice-pw")
		if _, err := refresh(c, alice); err != nil {
			t.Fatalf("Refresh after the restart: %v", err)
		}
	})

	t.Run("hung: the timeouts end it", func(t *testing.T) {
		s.Pause(t)
		defer s.Resume(t)
		for _, tc := range []struct {
			name string
			edit func(*Config)
		}{
			{"LDAPS handshake (connect timeout)", func(*Config) {}},
			{"StartTLS (connect timeout)", func(c *Config) { c.Hosts, c.StartTLS = []string{s.Addr}, true }},
			{"plain bind (request timeout)", func(c *Config) { c.Hosts, c.InsecureNoTLS, c.RootCAData = []string{s.Addr}, true, "" }},
		} {
			cfg := fast
			tc.edit(&cfg)
			c, _ := open(t, cfg)
			start := time.Now()
			_, ok, err := c.Login(context.Background(), connectors.Scopes{}, "alice", "alice-pw")
			if ok || !errors.Is(err, ErrUnavailable) {
				t.Fatalf("%s: Login with the directory hung = %v, %v; want ErrUnavailable", tc.name, ok, err)
			}
			t.Logf("%s: err: %v", tc.name, err)
			if d := time.Since(start); d > bound {
				t.Fatalf("%s: took %v", tc.name, d)
			}
		}
	})

	t.Run("hung: the caller's deadline ends it", func(t *testing.T) {
		slow := testConfig(s)
		slow.Timeouts = Timeouts{Connect: config.Duration(time.Minute), Request: config.Duration(time.Minute)}
		c, _ := open(t, slow)
		s.Pause(t)
		defer s.Resume(t)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, ok, err := c.Login(ctx, connectors.Scopes{}, "alice", "alice-pw")
		if ok || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Login = %v, %v; want the context's deadline", ok, err)
		}
		t.Logf("err: %v", err)
		if d := time.Since(start); d > bound {
			t.Fatalf("took %v", d)
		}
	})

	t.Run("failover to the next host", func(t *testing.T) {
		cfg := fast
		down := closedAddr(t)
		cfg.Hosts = []string{down, s.TLSAddr}
		c, logs := open(t, cfg)
		login(t, c, "alice", "alice-pw")
		if !strings.Contains(logs.String(), down) {
			t.Errorf("the unavailable host is not logged:\n%s", logs)
		}
	})

	t.Run("every host down", func(t *testing.T) {
		cfg := fast
		down1, down2 := closedAddr(t), closedAddr(t)
		cfg.Hosts = []string{down1, down2}
		c, _ := open(t, cfg)
		_, _, err := c.Login(context.Background(), connectors.Scopes{}, "alice", "alice-pw")
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), down1) || !strings.Contains(err.Error(), down2) {
			t.Fatalf("err = %v; want ErrUnavailable naming both hosts", err)
		}
	})
}
