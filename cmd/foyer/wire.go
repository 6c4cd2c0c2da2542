package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/github"
	"github.com/foyerid/foyer/connectors/ldap"
	"github.com/foyerid/foyer/connectors/local"
	"github.com/foyerid/foyer/connectors/oidc"
	"github.com/foyerid/foyer/connectors/saml"
	"github.com/foyerid/foyer/gateway"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/internal/config"
	"github.com/foyerid/foyer/keys"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
	"github.com/foyerid/foyer/storage/redisstore"
	"github.com/foyerid/foyer/storage/sqlstore"
)

// connectorTypes are the connector types this binary knows.
func connectorTypes() connectors.Registry {
	return connectors.Registry{
		local.TypeName:  local.Type,
		oidc.TypeName:   oidc.Type,
		github.TypeName: github.Type,
		saml.TypeName:   saml.Type,
		ldap.TypeName:   ldap.Type,
	}
}

func configRegistry() config.Registry {
	return config.Registry{Connectors: connectorTypes().Configs(), PasswordHash: identity.CheckHash}
}

// newLogger builds the process logger from the logging section.
func newLogger(w io.Writer, l config.Logging) *slog.Logger {
	var level slog.Level
	switch l.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// closer is what a backend needs at shutdown.
type closer interface{ Close() error }

// openStore opens the backends the storage section names, and returns the
// readiness checks they add.
func openStore(ctx context.Context, c config.Storage, logger *slog.Logger) (storage.Store, []closer, []gateway.ReadyCheck, error) {
	var st storage.Store
	var closers []closer
	var checks []gateway.ReadyCheck
	var sqlite, pg *sqlstore.Store
	openPostgres := func() (*sqlstore.Store, error) {
		if pg != nil {
			return pg, nil
		}
		opts := []sqlstore.Option{sqlstore.WithLogger(logger)}
		if c.Postgres.MaxConns > 0 {
			opts = append(opts, sqlstore.WithPoolSize(c.Postgres.MaxConns))
		}
		opts = append(opts, sqlstore.WithMinConns(c.Postgres.MinConns),
			sqlstore.WithConnMaxLifetime(c.Postgres.ConnMaxLifetime.Std()))
		s, err := sqlstore.OpenPostgres(ctx, c.Postgres.URL.Reveal(), opts...)
		if err != nil {
			return nil, fmt.Errorf("storage.postgres: %w", err)
		}
		pg = s
		closers = append(closers, s)
		return s, nil
	}
	openSQLite := func() (*sqlstore.Store, error) {
		if sqlite != nil {
			return sqlite, nil
		}
		s, err := sqlstore.OpenSQLite(ctx, c.SQLite.File, sqlstore.WithLogger(logger))
		if err != nil {
			return nil, fmt.Errorf("storage.sqlite: %w", err)
		}
		sqlite = s
		closers = append(closers, s)
		return s, nil
	}
	switch c.Type {
	case config.StorageMemory:
		m := memory.New()
		st.Directory, st.State = m, m
	case config.StorageSQLite, "":
		s, err := openSQLite()
		if err != nil {
			return st, closers, checks, err
		}
		st.Directory, st.State = s, s
	case config.StoragePostgres:
		s, err := openPostgres()
		if err != nil {
			return st, closers, checks, err
		}
		st.Directory, st.State = s, s
	default:
		return st, closers, checks, fmt.Errorf("storage.type: %q is not available in this build yet (see docs/storage.md)", c.Type)
	}
	if c.Sessions != nil {
		switch c.Sessions.Type {
		case config.StorageMemory:
			st.State = memory.New()
		case config.StorageSQLite:
			s, err := openSQLite()
			if err != nil {
				return st, closers, checks, err
			}
			st.State = s
		case config.StoragePostgres:
			s, err := openPostgres()
			if err != nil {
				return st, closers, checks, err
			}
			st.State = s
		case config.StorageRedis:
			rs, err := openRedis(ctx, c.Sessions.Redis, logger)
			if err != nil {
				return st, closers, checks, err
			}
			closers = append(closers, rs)
			st.State = rs
			checks = append(checks, gateway.ReadyCheck{Name: "redis-eviction", Warning: true, Check: func(ctx context.Context) error {
				policy, err := rs.EvictionPolicy(ctx)
				if err != nil || policy == "" || policy == "noeviction" {
					return nil // unknown (CONFIG disabled) or safe
				}
				return fmt.Errorf("maxmemory-policy is %s: Redis may evict sessions, codes and keys; set noeviction", policy)
			}})
		default:
			return st, closers, checks, fmt.Errorf("storage.sessions.type: %q is not available in this build yet (see docs/storage.md)", c.Sessions.Type)
		}
	}
	return st, closers, checks, nil
}

// openRedis opens the Redis sessions-and-keys store.
func openRedis(ctx context.Context, c config.Redis, logger *slog.Logger) (*redisstore.Store, error) {
	rc := redisstore.Config{
		Addrs: c.Addrs, MasterName: c.MasterName, Username: c.Username, Password: c.Password.Reveal(),
		DB: c.DB, KeyPrefix: c.KeyPrefix, WaitReplicas: c.WaitReplicas, WaitTimeout: c.WaitTimeout.Std(),
	}
	if c.TLS.Enabled {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify}
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("storage.sessions.redis.tls.caFile: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("storage.sessions.redis.tls.caFile: no PEM certificate in %s", c.TLS.CAFile)
			}
		}
		rc.TLS = tc
	}
	redis.SetLogger(redisLogger{logger})
	rs, err := redisstore.Open(ctx, rc, redisstore.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("storage.sessions.redis: %w", err)
	}
	return rs, nil
}

// redisLogger routes go-redis's own messages (dial failures) to slog.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// syncStatic makes the store's static clients and users match the file:
// declared ones are created or updated (users keep their ids), static
// clients no longer declared are deleted, and static users no longer
// declared are disabled (never deleted: their links and history stay).
// Several workers may run it at once on one directory (a fleet starting
// together): a record another worker created or deleted first is not an
// error.
func syncStatic(ctx context.Context, dir storage.Directory, cfg *config.Config, now time.Time, logger *slog.Logger) error {
	declared := map[string]bool{}
	for _, cc := range cfg.Clients {
		declared[cc.ID] = true
		c := clientFromConfig(cc, now)
		update := func(old *storage.Client) error {
			c.CreatedAt = old.CreatedAt
			*old = c
			return nil
		}
		err := dir.UpdateClient(ctx, c.ID, update)
		if errors.Is(err, storage.ErrNotFound) {
			err = dir.CreateClient(ctx, c)
			if errors.Is(err, storage.ErrConflict) {
				err = dir.UpdateClient(ctx, c.ID, update)
			}
		}
		if err != nil {
			return fmt.Errorf("clients: %s: %w", cc.ID, err)
		}
	}
	existing, err := dir.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("clients: list: %w", err)
	}
	for _, c := range existing {
		if c.Static && !declared[c.ID] {
			if err := dir.DeleteClient(ctx, c.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("clients: remove %s: %w", c.ID, err)
			}
			logger.Info("static client removed from config: deleted", "client_id", c.ID)
		}
	}

	kept := map[string]bool{}
	for _, uc := range cfg.Users {
		id, err := syncUser(ctx, dir, uc, now)
		if errors.Is(err, storage.ErrConflict) {
			id, err = syncUser(ctx, dir, uc, now) // created by another worker meanwhile
		}
		if err != nil {
			return fmt.Errorf("users: %s: %w", userLabel(uc), err)
		}
		kept[id] = true
	}
	users, err := dir.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("users: list: %w", err)
	}
	for _, u := range users {
		if u.Static && !kept[u.ID] && !u.Disabled {
			err := dir.UpdateUser(ctx, u.ID, func(u *storage.User) error {
				u.Disabled, u.UpdatedAt = true, now
				return nil
			})
			if err != nil {
				return fmt.Errorf("users: disable %s: %w", u.ID, err)
			}
			logger.Info("static user removed from config: disabled", "user_id", u.ID)
		}
	}
	return nil
}

func userLabel(u config.User) string {
	if u.Username != "" {
		return u.Username
	}
	return u.Email
}

func syncUser(ctx context.Context, dir storage.Directory, uc config.User, now time.Time) (string, error) {
	username := strings.ToLower(uc.Username)
	email := strings.ToLower(uc.Email)
	verified := uc.EmailVerified == nil || *uc.EmailVerified
	apply := func(u *storage.User) {
		u.Username, u.Email, u.EmailVerified, u.Name = username, email, verified && email != "", uc.Name
		u.PasswordHash, u.Groups, u.Static, u.Disabled, u.UpdatedAt = uc.PasswordHash, slices.Clone(uc.Groups), true, false, now
	}
	var found storage.User
	var err error
	if username != "" {
		found, err = dir.UserByUsername(ctx, username)
	} else {
		var list []storage.User
		list, err = dir.UsersByEmail(ctx, email)
		err = errors.Join(err, storage.ErrNotFound)
		for _, u := range list {
			if u.Static {
				found, err = u, nil
				break
			}
		}
	}
	switch {
	case err == nil:
		if !found.Static {
			return "", fmt.Errorf("a user created at run time already has this username")
		}
		return found.ID, dir.UpdateUser(ctx, found.ID, func(u *storage.User) error {
			apply(u)
			return nil
		})
	case errors.Is(err, storage.ErrNotFound):
		u := storage.User{ID: storage.NewID(), CreatedAt: now}
		apply(&u)
		return u.ID, dir.CreateUser(ctx, u)
	default:
		return "", err
	}
}

func clientFromConfig(cc config.Client, now time.Time) storage.Client {
	c := storage.Client{
		ID: cc.ID, Name: cc.Name, Public: cc.Public,
		RedirectURIs:           slices.Clone(cc.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(cc.PostLogoutRedirectURIs),
		GrantTypes:             slices.Clone(cc.GrantTypes),
		AllowedConnectors:      slices.Clone(cc.AllowedConnectors),
		RequirePKCE:            cc.RequirePKCE == nil || *cc.RequirePKCE,
		SkipConsent:            cc.SkipConsent,
		BackchannelLogoutURI:   cc.BackchannelLogoutURI,
		SigningAlgorithm:       cc.SigningAlgorithm,
		Static:                 true,
		CreatedAt:              now,
		UpdatedAt:              now,

		BackchannelLogoutSessionRequired: cc.BackchannelLogoutSessionRequired,
	}
	switch {
	case cc.Secret.Reveal() != "":
		c.SecretHash = gateway.HashClientSecret(cc.Secret.Reveal())
	case cc.SecretHash != "":
		c.SecretHash = cc.SecretHash
	}
	return c
}

// devSecret is a stable secret for dev mode, derived from the KEK.
func devSecret(kek keys.KEK, purpose string) string {
	return base64.RawURLEncoding.EncodeToString(kek.Derive("dev " + purpose))[:32]
}

// openConnectors opens the configured connectors (the built-in local one
// when none are listed).
func openConnectors(cfg *config.Config, dir storage.Directory, state storage.State, logger *slog.Logger) ([]gateway.Connector, error) {
	list := cfg.Connectors
	if len(list) == 0 {
		list = []config.Connector{{ID: "local", Type: local.TypeName, Name: "Email", Config: &local.Config{}}}
	}
	reg := connectorTypes()
	httpClient := &http.Client{Timeout: 15 * time.Second}
	var out []gateway.Connector
	for _, c := range list {
		env := connectors.Env{
			ID: c.ID, CallbackURL: cfg.Issuer + "/callback/" + c.ID, Issuer: cfg.Issuer,
			Logger: logger.With("connector_id", c.ID), HTTPClient: httpClient,
			Users: dir, Replay: state,
		}
		impl, err := reg.Open(c.Type, c.Config, env)
		if err != nil {
			return nil, fmt.Errorf("connectors: %s: %w", c.ID, err)
		}
		name := c.Name
		if name == "" {
			name = c.ID
		}
		out = append(out, gateway.Connector{
			ID: c.ID, Type: c.Type, Name: name, Impl: impl,
			Policy: identity.Policy{
				Signup:              c.Signup != config.SignupDeny,
				LinkByVerifiedEmail: c.LinkByVerifiedEmail,
			},
		})
	}
	return out, nil
}

func lifetimes(cfg *config.Config) gateway.Lifetimes {
	t := cfg.Tokens
	l := gateway.Lifetimes{
		IDToken: t.IDToken.Std(), AccessToken: t.AccessToken.Std(),
		RefreshIdle: t.RefreshIdle.Std(), RefreshAbsolute: t.RefreshAbsolute.Std(),
		RefreshReuseGrace: gateway.DefaultLifetimes.RefreshReuseGrace,
		AuthCode:          t.AuthCode.Std(), AuthRequest: t.AuthRequest.Std(),
		SessionIdle: cfg.SSO.IdleTimeout.Std(), SessionAbsolute: cfg.SSO.AbsoluteTimeout.Std(),
	}
	if t.RefreshReuseGrace != nil {
		l.RefreshReuseGrace = t.RefreshReuseGrace.Std()
	}
	return l
}

func trustedProxies(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("http.trustedProxies: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// workerID names this process as a lease holder: host, pid and a random
// part, so an operator can tell which worker holds a lease.
var workerID = func() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), storage.NewID()[:6])
}()

// keyOptions derives the key manager's options from the config.
func keyOptions(cfg *config.Config, logger *slog.Logger) keys.Options {
	longest := max(cfg.Tokens.IDToken.Std(), cfg.Tokens.AccessToken.Std())
	return keys.Options{
		Holder:         workerID,
		Algorithms:     cfg.Keys.Algorithms,
		RotationPeriod: cfg.Keys.RotationPeriod.Std(),
		// Logout tokens (2 minutes) are shorter than either.
		TokenLifetime: longest,
		Logger:        logger,
	}
}
