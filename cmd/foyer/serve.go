package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/foyerid/foyer/admin"
	"github.com/foyerid/foyer/gateway"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/internal/config"
	"github.com/foyerid/foyer/keys"
	"github.com/foyerid/foyer/storage"
)

// cmdServe runs `foyer serve`.
func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "config file")
	dev := fs.Bool("dev", false, "run a development instance (embedded store, demo client and user)")
	dir := fs.String("dir", ".", "with --dev: the folder for the dev database and key-encryption key")
	addr := fs.String("addr", "127.0.0.1:5556", "with --dev: the loopback address to listen on (the issuer follows it)")
	role := fs.String("role", roleAll, "all | public (end-user HTTP only; never rotates keys or sweeps) | housekeeping (key rotation, sweeping and the admin address; no public listener)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if (*file == "") == !*dev || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: foyer serve --config FILE [--role all|public|housekeeping] | foyer serve --dev [--dir DIR] [--addr HOST:PORT]")
		return exitConfig
	}
	if *role != roleAll && *role != rolePublic && *role != roleHousekeeping {
		fmt.Fprintf(stderr, "foyer: --role %q: want all, public or housekeeping\n", *role)
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cfg *config.Config
	var kek keys.KEK
	var err error
	if *dev {
		cfg, kek, err = devConfig(*dir, *addr)
		if err != nil {
			fmt.Fprintln(stderr, "foyer:", err)
			return exitFail
		}
	} else {
		cfg, err = config.Load(*file, configRegistry())
		if err != nil {
			printConfigError(stderr, err)
			return exitConfig
		}
	}
	logger := newLogger(stderr, cfg.Logging)
	if !*dev {
		kek, err = keys.LoadKEK(cfg.Keys.KEK.File, cfg.Keys.KEK.Env)
		if err != nil {
			logger.Error("cannot start: no usable key-encryption key (keys.kek); generate one with `foyer keys generate-kek`", "err", err)
			return exitFail
		}
		if cfg.Keys.KEK.File != "" {
			if err := keys.CheckKEKFile(cfg.Keys.KEK.File); err != nil {
				logger.Warn("key-encryption key file is readable by others", "err", err)
			}
		}
	}
	if *role == roleHousekeeping && cfg.Admin.Addr == "" {
		logger.Error("cannot start: --role housekeeping serves only admin.addr, which is not set")
		return exitConfig
	}
	var adminToken string
	if cfg.Admin.Addr != "" {
		if adminToken, err = admin.ReadTokenFile(cfg.Admin.TokenFile); err != nil {
			logger.Error("cannot start: no usable admin token (admin.tokenFile); put at least 32 random characters in it, e.g. `head -c 32 /dev/urandom | base64`", "err", err)
			return exitFail
		}
	}
	if err := serve(ctx, cfg, kek, *dev, *role, adminToken, logger, stdout); err != nil {
		logger.Error("foyer stopped", "err", err)
		return exitFail
	}
	return exitOK
}

// app is a wired Foyer.
type app struct {
	store   storage.Store
	closers []closer
	keys    *keys.Manager
	gateway *gateway.Server
}

func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i].Close()
	}
}

// build wires a Foyer from a config: storage, static records, keys,
// connectors and the gateway.
func build(ctx context.Context, cfg *config.Config, kek keys.KEK, role string, demo *gateway.DemoClient, logger *slog.Logger) (*app, error) {
	a := &app{}
	var err error
	var checks []gateway.ReadyCheck
	a.store, a.closers, checks, err = openStore(ctx, cfg.Storage, logger)
	if err != nil {
		a.Close()
		return nil, err
	}
	if err := syncStatic(ctx, a.store.Directory, cfg, time.Now().UTC(), logger); err != nil {
		a.Close()
		return nil, fmt.Errorf("sync config to store: %w", err)
	}
	ko := keyOptions(cfg, logger)
	ko.Passive = role == rolePublic
	a.keys, err = keys.NewManager(a.store.State, kek, ko)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := a.keys.Init(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	conns, err := openConnectors(cfg, a.store.Directory, a.store.State, logger)
	if err != nil {
		a.Close()
		return nil, err
	}
	proxies, err := trustedProxies(cfg.HTTP.TrustedProxies)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.gateway, err = gateway.New(gateway.Options{
		Issuer: cfg.Issuer, Directory: a.store.Directory, State: a.store.State,
		Keys: a.keys, Connectors: conns,
		Linker:    identity.NewLinker(a.store.Directory, nil, logger),
		Lifetimes: lifetimes(cfg), FlowKey: kek.Derive("gateway flow"),
		Theme: cfg.Web.Theme, Title: cfg.Web.Title, TrustedProxies: proxies,
		Demo: demo, Logger: logger,
		ReadyChecks: append(checks, gateway.ReadyCheck{Name: "keys", Check: keysFresh(a.keys)}),
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func serve(ctx context.Context, cfg *config.Config, kek keys.KEK, dev bool, role, adminToken string, logger *slog.Logger, stdout io.Writer) error {
	var demo *gateway.DemoClient
	if dev {
		demo = &gateway.DemoClient{ID: devClientID, Secret: devSecret(kek, "demo client")}
	}
	a, err := build(ctx, cfg, kek, role, demo, logger)
	if err != nil {
		return err
	}
	defer a.Close()

	bg, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	var bgDone sync.WaitGroup
	defer func() {
		// Before the store closes (deferred above): the background
		// loops release their leases, so a standby takes over at once.
		cancelBG()
		bgDone.Wait()
	}()
	bgDone.Go(func() {
		if err := a.keys.Run(bg); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("key manager stopped", "err", err)
		}
	})
	if role != rolePublic {
		bgDone.Go(func() { housekeeping(bg, a.store, logger) })
	}

	srv := &http.Server{
		Handler:           a.gateway.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	var pub, ops *http.Server
	if role != roleHousekeeping {
		ln, err := net.Listen("tcp", cfg.HTTP.Addr)
		if err != nil {
			return fmt.Errorf("http.addr: %w", err)
		}
		tlsOn := cfg.HTTP.TLS.Cert != ""
		if tlsOn {
			cert, err := tls.LoadX509KeyPair(cfg.HTTP.TLS.Cert, cfg.HTTP.TLS.Key)
			if err != nil {
				ln.Close()
				return fmt.Errorf("http.tls: %w", err)
			}
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		pub = srv
		logger.Info("foyer listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "tls", tlsOn, "role", role, "worker", workerID, "version", version)
		go func() {
			if tlsOn {
				errc <- srv.ServeTLS(ln, "", "")
			} else {
				errc <- srv.Serve(ln)
			}
		}()
	}
	if cfg.Admin.Addr != "" {
		// The internal address: the admin API, health, readiness and
		// metrics.
		handler, err := adminHandler(cfg, a, adminToken, logger)
		if err != nil {
			if pub != nil {
				_ = pub.Close()
			}
			return fmt.Errorf("admin: %w", err)
		}
		opsLn, err := net.Listen("tcp", cfg.Admin.Addr)
		if err != nil {
			if pub != nil {
				_ = pub.Close()
			}
			return fmt.Errorf("admin.addr: %w", err)
		}
		ops = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, MaxHeaderBytes: 32 << 10}
		logger.Info("admin API and ops endpoints listening", "addr", opsLn.Addr().String(), "role", role)
		go func() { errc <- ops.Serve(opsLn) }()
	}
	if dev {
		printDevBanner(stdout, cfg, demo)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if ops != nil {
		_ = ops.Shutdown(shutdownCtx)
	}
	if pub != nil {
		if err := pub.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	a.gateway.Wait() // back-channel logout deliveries in flight
	logger.Info("stopped")
	return nil
}

// Roles of a worker (serve --role).
const (
	roleAll          = "all"
	rolePublic       = "public"
	roleHousekeeping = "housekeeping"
)

// keysFresh fails readiness when this worker's key set is so old that a key
// another worker added may already sign before this one serves it.
func keysFresh(m *keys.Manager) func(context.Context) error {
	return func(context.Context) error {
		if age := time.Since(m.LoadedAt()); age > keysStaleAfter {
			return fmt.Errorf("key set last loaded %s ago", age.Round(time.Second))
		}
		return nil
	}
}

// keysStaleAfter is PublishAhead − JWKSMaxAge with the key manager's
// defaults (11m − 5m).
const keysStaleAfter = 6 * time.Minute

// housekeeping sweeps expired records from backends that need it, under a
// lease so that one worker at a time does it.
func housekeeping(ctx context.Context, st storage.Store, logger *slog.Logger) {
	holder := workerID
	var sweepers []storage.Sweeper
	for _, b := range []any{st.Directory, st.State} {
		if s, ok := b.(storage.Sweeper); ok && !containsSweeper(sweepers, s) {
			sweepers = append(sweepers, s)
		}
	}
	if len(sweepers) == 0 {
		return
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = st.State.ReleaseLease(rctx, "housekeeping", holder)
			cancel()
			return
		case <-t.C:
		}
		ok, err := st.State.AcquireLease(ctx, "housekeeping", holder, 3*time.Minute)
		if err != nil || !ok {
			continue
		}
		for _, s := range sweepers {
			n, err := s.Sweep(ctx)
			if err != nil {
				logger.Warn("sweep expired records", "err", err)
			} else if n > 0 {
				logger.Debug("swept expired records", "count", n)
			}
		}
	}
}

func containsSweeper(list []storage.Sweeper, s storage.Sweeper) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
