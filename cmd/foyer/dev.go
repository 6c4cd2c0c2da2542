package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/foyerid/foyer/connectors/local"
	"github.com/foyerid/foyer/gateway"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/internal/config"
	"github.com/foyerid/foyer/keys"
)

const (
	devClientID = "foyer-demo"
	devUser     = "demo"
	devPassword = "demo"
)

// devConfig builds the `serve --dev` config in dir, creating the dev
// key-encryption key file on first use so that keys, clients and users
// survive a restart.
func devConfig(dir, addr string) (*config.Config, keys.KEK, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, keys.KEK{}, fmt.Errorf("--addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, keys.KEK{}, fmt.Errorf("--addr: dev mode listens on a loopback address only, not %q", host)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, keys.KEK{}, fmt.Errorf("dev folder: %w", err)
	}
	cfg := config.Dev(dir)
	cfg.HTTP.Addr = addr
	cfg.Issuer = "http://" + addr
	kekFile := cfg.Keys.KEK.File
	kek, err := keys.LoadKEK(kekFile, "")
	if errors.Is(err, fs.ErrNotExist) {
		kek = keys.GenerateKEK()
		if err := os.WriteFile(kekFile, []byte(kek.Encode()+"\n"), 0o600); err != nil {
			return nil, keys.KEK{}, fmt.Errorf("write dev key-encryption key: %w", err)
		}
	} else if err != nil {
		return nil, keys.KEK{}, fmt.Errorf("dev key-encryption key %s: %w", kekFile, err)
	}
	for i := range cfg.Connectors {
		if cfg.Connectors[i].Config == nil {
			cfg.Connectors[i].Config = &local.Config{}
		}
	}
	hash, err := identity.HashPassword(devPassword)
	if err != nil {
		return nil, keys.KEK{}, err
	}
	cfg.Users = append(cfg.Users, config.User{
		Username: devUser, Email: "demo@example.com", Name: "Demo User",
		PasswordHash: hash, Groups: []string{"demo", "developers"},
	})
	cfg.Clients = append(cfg.Clients, config.Client{
		ID: devClientID, Name: "Foyer demo app",
		Secret:       config.Secret(devSecret(kek, "demo client")),
		RedirectURIs: []string{cfg.Issuer + "/demo/callback"},
	})
	return cfg, kek, nil
}

func printDevBanner(w io.Writer, cfg *config.Config, demo *gateway.DemoClient) {
	abs, _ := filepath.Abs(cfg.Storage.SQLite.File)
	fmt.Fprintf(w, `
Foyer is running in development mode (never use it in production).

  Demo app:       %s/demo        (log in as %s / %s)
  Issuer:         %s
  Discovery:      %s/.well-known/openid-configuration
  Demo client:    client_id=%s client_secret=%s
                  redirect_uri=%s/demo/callback
  Data:           %s (delete it to start afresh)

Press Ctrl-C to stop.
`, cfg.Issuer, devUser, devPassword, cfg.Issuer, cfg.Issuer, demo.ID, demo.Secret, cfg.Issuer, abs)
}
