package config

import "gopkg.in/yaml.v3"

// Config is a whole Foyer configuration file. Parse and Load return it with
// defaults filled in; docs/config.md describes every key.
type Config struct {
	// Issuer is the OpenID Provider's issuer URL (OIDC Discovery 1.0 §3):
	// https, or http for a loopback host; no query or fragment; stored
	// without a trailing slash.
	Issuer string `yaml:"issuer"`
	// HTTP is the public listener.
	HTTP HTTP `yaml:"http"`
	// Admin is the admin API listener; off unless Admin.Addr is set.
	Admin Admin `yaml:"admin"`
	// Storage says where the directory, sessions and keys live.
	Storage Storage `yaml:"storage"`
	// Keys configures the signing keys and their encryption at rest.
	Keys Keys `yaml:"keys"`
	// Tokens holds token and request lifetimes.
	Tokens Tokens `yaml:"tokens"`
	// SSO holds the single sign-on session lifetimes.
	SSO SSO `yaml:"sso"`
	// Web configures the login pages.
	Web Web `yaml:"web"`
	// Logging configures the log output.
	Logging Logging `yaml:"logging"`
	// Clients are the relying parties declared in the file.
	Clients []Client `yaml:"clients"`
	// Users are the static local users declared in the file.
	Users []User `yaml:"users"`
	// Connectors are the upstream identity sources. When none are listed the
	// server adds the built-in "local" connector.
	Connectors []Connector `yaml:"connectors"`

	// file and root let Validate give problems their file and line.
	file string
	root *yaml.Node
}

// HTTP is the public HTTP listener.
type HTTP struct {
	// Addr is host:port to listen on. Default "127.0.0.1:5556".
	Addr string `yaml:"addr"`
	// TLS, when both files are set, makes the listener serve HTTPS.
	TLS TLS `yaml:"tls"`
	// TrustedProxies lists the CIDRs whose X-Forwarded-For header is
	// believed. Default none.
	TrustedProxies []string `yaml:"trustedProxies"`
}

// TLS names a PEM certificate chain and its private key. Both or neither.
type TLS struct {
	// Cert is the path of the PEM certificate chain.
	Cert string `yaml:"cert"`
	// Key is the path of the PEM private key.
	Key string `yaml:"key"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.Cert != "" && t.Key != "" }

// Admin is the admin API listener.
type Admin struct {
	// Addr is host:port for the admin API; "" (the default) turns it off.
	Addr string `yaml:"addr"`
	// TokenFile holds the bearer token the admin API accepts. Required
	// when Addr is set.
	TokenFile string `yaml:"tokenFile"`
}

// Storage backends.
const (
	StorageMemory   = "memory"
	StorageSQLite   = "sqlite"
	StoragePostgres = "postgres"
	StorageRedis    = "redis"
)

// Storage says where state lives. Type holds the directory, and sessions
// and keys too unless Sessions is set.
type Storage struct {
	// Type is memory, sqlite or postgres. Default sqlite.
	Type string `yaml:"type"`
	// SQLite is used when Type or Sessions.Type is sqlite.
	SQLite SQLite `yaml:"sqlite"`
	// Postgres is used when Type or Sessions.Type is postgres.
	Postgres Postgres `yaml:"postgres"`
	// Sessions, when set, moves sessions and keys to another backend.
	Sessions *Sessions `yaml:"sessions"`
}

// SessionsType returns the backend that holds sessions and keys.
func (s Storage) SessionsType() string {
	if s.Sessions != nil && s.Sessions.Type != "" {
		return s.Sessions.Type
	}
	return s.Type
}

// SQLite is the embedded SQLite database.
type SQLite struct {
	// File is the database file. Default "foyer.db".
	File string `yaml:"file"`
}

// Postgres is a PostgreSQL connection pool.
type Postgres struct {
	// URL is a postgres:// URL or a key=value connection string. Required
	// when PostgreSQL is used.
	URL Secret `yaml:"url"`
	// MaxConns caps the pool. Default 10.
	MaxConns int `yaml:"maxConns"`
	// MinConns is kept open. Default 0.
	MinConns int `yaml:"minConns"`
	// ConnMaxLifetime closes connections older than this. Default 30m.
	ConnMaxLifetime Duration `yaml:"connMaxLifetime"`
}

// Sessions is the backend for sessions and keys when it differs from the
// directory's.
type Sessions struct {
	// Type is memory, sqlite, postgres or redis. sqlite and postgres use
	// the storage.sqlite and storage.postgres blocks.
	Type string `yaml:"type"`
	// Redis is used when Type is redis.
	Redis Redis `yaml:"redis"`
}

// Redis is a Redis deployment: standalone (one address), Cluster (several
// addresses) or Sentinel (MasterName set; the addresses are sentinels').
type Redis struct {
	// Addrs are host:port addresses; at least one.
	Addrs []string `yaml:"addrs"`
	// MasterName selects Sentinel mode.
	MasterName string `yaml:"masterName"`
	// Username is the ACL user name, if any.
	Username string `yaml:"username"`
	// Password is the ACL or requirepass password.
	Password Secret `yaml:"password"`
	// DB is the database number; must be 0 for Cluster.
	DB int `yaml:"db"`
	// KeyPrefix starts every key Foyer writes. Default "foyer:".
	KeyPrefix string `yaml:"keyPrefix"`
	// TLS configures TLS to Redis.
	TLS RedisTLS `yaml:"tls"`
	// WaitReplicas, when above 0, makes security-relevant writes (code
	// redemption, refresh rotation, revocation) WAIT for this many replicas.
	WaitReplicas int `yaml:"waitReplicas"`
	// WaitTimeout bounds each WAIT. Default 100ms.
	WaitTimeout Duration `yaml:"waitTimeout"`
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	// Enabled turns TLS on.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle to verify the server with instead of the
	// system roots.
	CAFile string `yaml:"caFile"`
	// ServerName overrides the name verified in the server's certificate.
	ServerName string `yaml:"serverName"`
	// InsecureSkipVerify turns certificate verification off. Never in
	// production.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify"`
}

// Signing algorithms (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// Keys configures signing keys.
type Keys struct {
	// Algorithms are the signing algorithms to keep keys for; the first is
	// the default for ID tokens. Default [RS256].
	Algorithms []string `yaml:"algorithms"`
	// RotationPeriod is how often a new signing key is made. Default 6h,
	// at least 1h.
	RotationPeriod Duration `yaml:"rotationPeriod"`
	// KEK locates the key-encryption key that seals private keys at rest.
	KEK KEK `yaml:"kek"`
}

// KEK locates the key-encryption key (32 random bytes, base64 or hex):
// exactly one of File and Env.
type KEK struct {
	// File is a file holding the key.
	File string `yaml:"file"`
	// Env is the name of an environment variable holding the key.
	Env string `yaml:"env"`
}

// Tokens holds lifetimes. Zero values are replaced by the defaults.
type Tokens struct {
	// IDToken is the ID token lifetime. Default 10m; 1m to 24h.
	IDToken Duration `yaml:"idToken"`
	// AccessToken is the access token lifetime. Default 10m; 1m to 24h.
	AccessToken Duration `yaml:"accessToken"`
	// RefreshIdle expires a refresh token unused this long. Default 24h.
	RefreshIdle Duration `yaml:"refreshIdle"`
	// RefreshAbsolute ends a refresh-token family this long after the
	// login. Default 720h; at least RefreshIdle.
	RefreshAbsolute Duration `yaml:"refreshAbsolute"`
	// RefreshReuseGrace is how long a rotated refresh token may be
	// presented again (a client retrying a lost response) and get the same
	// successor. Default 5s; 0s turns the grace off; at most 60s. A pointer
	// so that an explicit 0s is kept.
	RefreshReuseGrace *Duration `yaml:"refreshReuseGrace"`
	// AuthCode is the authorization code lifetime. Default 1m; 10s to 10m.
	AuthCode Duration `yaml:"authCode"`
	// AuthRequest is how long a login may take. Default 15m; 1m to 1h.
	AuthRequest Duration `yaml:"authRequest"`
}

// SSO holds single sign-on session lifetimes.
type SSO struct {
	// IdleTimeout ends a session unused this long. Default 1h.
	IdleTimeout Duration `yaml:"idleTimeout"`
	// AbsoluteTimeout ends a session this long after login. Default 12h;
	// at least IdleTimeout.
	AbsoluteTimeout Duration `yaml:"absoluteTimeout"`
}

// Web configures the login pages.
type Web struct {
	// Theme is a directory whose templates/ and static/ override the
	// built-in ones.
	Theme string `yaml:"theme"`
	// Title is shown in page headers. Default "Foyer".
	Title string `yaml:"title"`
}

// Logging configures the log output.
type Logging struct {
	// Format is json or text. Default json.
	Format string `yaml:"format"`
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
}

// Grant types a client may use (RFC 6749 §4.1, §6, §4.3; RFC 8628 §3.4).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// Client is a relying party declared in the file.
type Client struct {
	// ID is the client_id: unique, printable ASCII without spaces.
	ID string `yaml:"id"`
	// Name is shown on the consent page.
	Name string `yaml:"name"`
	// Secret is the client secret of a confidential client. Set Secret or
	// SecretHash, not both; public clients set neither.
	Secret Secret `yaml:"secret"`
	// SecretHash is "sha256:<base64url>", an argon2id or a bcrypt hash of
	// the client secret.
	SecretHash string `yaml:"secretHash"`
	// Public marks a client that cannot keep a secret (native, SPA).
	Public bool `yaml:"public"`
	// RedirectURIs are matched exactly. Required for authorization_code.
	RedirectURIs []string `yaml:"redirectURIs"`
	// PostLogoutRedirectURIs are allowed after RP-initiated logout.
	PostLogoutRedirectURIs []string `yaml:"postLogoutRedirectURIs"`
	// GrantTypes default to authorization_code and refresh_token.
	GrantTypes []string `yaml:"grantTypes"`
	// AllowedConnectors limits the connectors a person may use for this
	// client; empty allows all.
	AllowedConnectors []string `yaml:"allowedConnectors"`
	// RequirePKCE defaults to true; public clients always need PKCE.
	RequirePKCE *bool `yaml:"requirePKCE"`
	// SkipConsent skips the consent page for a trusted client.
	SkipConsent bool `yaml:"skipConsent"`
	// BackchannelLogoutURI receives OIDC back-channel logout tokens.
	BackchannelLogoutURI string `yaml:"backchannelLogoutURI"`
	// BackchannelLogoutSessionRequired adds sid to logout tokens.
	BackchannelLogoutSessionRequired bool `yaml:"backchannelLogoutSessionRequired"`
	// SigningAlgorithm overrides the default ID token algorithm; it must
	// be one of keys.algorithms.
	SigningAlgorithm string `yaml:"signingAlgorithm"`
}

// PKCERequired reports whether the client must use PKCE.
func (c Client) PKCERequired() bool { return c.Public || c.RequirePKCE == nil || *c.RequirePKCE }

// User is a static local user declared in the file.
type User struct {
	// Username is unique among users, ignoring case. Username or Email is
	// required.
	Username string `yaml:"username"`
	// Email is unique among users, ignoring case.
	Email string `yaml:"email"`
	// EmailVerified defaults to true for static users.
	EmailVerified *bool `yaml:"emailVerified"`
	// Name is the display name.
	Name string `yaml:"name"`
	// PasswordHash is an argon2id ($argon2id$...) or bcrypt ($2a$, $2b$,
	// $2y$) hash. Required.
	PasswordHash string `yaml:"passwordHash"`
	// Groups end up in the groups claim.
	Groups []string `yaml:"groups"`
}

// Connector is an upstream identity source.
type Connector struct {
	// ID is unique and appears in URLs: ^[a-z0-9][a-z0-9_-]{0,62}$.
	ID string `yaml:"id"`
	// Type names the connector implementation in the Registry.
	Type string `yaml:"type"`
	// Name is shown on the login page. Default: ID.
	Name string `yaml:"name"`
	// Signup is what happens at the first login of an identity no local
	// user is linked to: "allow" (the default) creates a local user,
	// "deny" refuses the login (for directories where an administrator
	// provisions users).
	Signup string `yaml:"signup"`
	// LinkByVerifiedEmail links a new identity to the one existing local
	// user with the same verified email, when the upstream says the email
	// is verified. Only for connectors trusted to verify emails: an
	// upstream that lets anyone claim any address would hand over accounts.
	LinkByVerifiedEmail bool `yaml:"linkByVerifiedEmail"`
	// Config is the value the Registry's constructor for Type returned,
	// decoded strictly from the config block; nil when Type is unknown.
	Config any `yaml:"config"`
}

// Registry maps a polymorphic block's type name to a constructor of the
// value its config is decoded into. The caller (cmd) fills it, so that this
// package imports nothing from Foyer.
type Registry struct {
	// Connectors maps a connector type to a function returning a pointer
	// to a fresh, zero config value for it.
	Connectors map[string]func() any
	// PasswordHash, when set, checks a password hash (users[].passwordHash,
	// clients[].secretHash) beyond its shape: parameters a login could
	// actually use. Validate checks only the shape.
	PasswordHash func(hash string) error
}
