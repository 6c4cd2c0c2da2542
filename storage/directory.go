package storage

import (
	"context"
	"time"
)

// Claims are what Foyer knows of a person from one login: the values that
// end up in ID tokens and userinfo.
type Claims struct {
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Username      string   `json:"preferred_username,omitempty"`
	Groups        []string `json:"groups,omitempty"`
}

// User is a local user: the stable subject every token names, whichever
// connector the person logged in with.
type User struct {
	ID            string
	Email         string // lower-cased by the caller; not unique
	EmailVerified bool
	Name          string
	Username      string // unique among users when not empty
	Groups        []string
	// PasswordHash is an argon2id or bcrypt hash in its standard encoding;
	// empty when the user has no local password.
	PasswordHash string
	Disabled     bool
	// Static marks users declared in the config file: Foyer rewrites them
	// at start-up and the admin API refuses to edit them.
	Static      bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt time.Time
}

// Identity is a remote identity (one account at one connector) linked to
// exactly one local user. (ConnectorID, Subject) is unique.
type Identity struct {
	ConnectorID string
	Subject     string
	UserID      string
	Claims      Claims // as last seen upstream
	// ConnectorData is opaque to everything but the connector (for example
	// an upstream refresh token). It may hold secrets: never log it.
	ConnectorData []byte
	LinkedAt      time.Time
	LastUsedAt    time.Time
}

// Client is a registered relying party.
type Client struct {
	ID string
	// SecretHash is "" for public clients; otherwise see the gateway's
	// client authentication for the accepted encodings.
	SecretHash             string
	Name                   string
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	// AllowedConnectors limits which connectors may log a person in for this
	// client; empty means all.
	AllowedConnectors []string
	// RequirePKCE applies to confidential clients; public clients always
	// need PKCE.
	RequirePKCE                      bool
	SkipConsent                      bool
	BackchannelLogoutURI             string
	BackchannelLogoutSessionRequired bool
	// SigningAlgorithm overrides the provider's default ID token algorithm.
	SigningAlgorithm string
	Static           bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// ConnectorConfig is a connector defined through the admin API rather than
// the config file. Config is the connector's own JSON.
type ConnectorConfig struct {
	ID        string
	Type      string
	Name      string
	Config    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Consent remembers the scopes a user granted a client.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// AuditEvent is one line of the admin audit log. It never holds secrets.
type AuditEvent struct {
	ID     string
	Time   time.Time
	Actor  string
	Action string
	Target string
	Detail string
}

// Users stores local users.
type Users interface {
	// CreateUser stores a new user. ErrConflict if the ID or a non-empty
	// Username is taken.
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, id string) (User, error)
	UserByUsername(ctx context.Context, username string) (User, error)
	UsersByEmail(ctx context.Context, email string) ([]User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser applies fn to the stored user and stores the result,
	// atomically with respect to other updates of the same user. An error
	// from fn aborts the update and is returned as is. fn must not do I/O.
	// The ID cannot change; a taken Username gives ErrConflict.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) error
	// DeleteUser removes the user with its identities and consents.
	DeleteUser(ctx context.Context, id string) error
}

// Identities stores remote identities and their links to users.
type Identities interface {
	// LinkIdentity stores a new link. ErrConflict if (ConnectorID, Subject)
	// is already linked (to anyone); ErrNotFound if the user does not exist.
	// Must be atomic: of two concurrent links of one identity, one fails.
	LinkIdentity(ctx context.Context, id Identity) error
	Identity(ctx context.Context, connectorID, subject string) (Identity, error)
	IdentitiesByUser(ctx context.Context, userID string) ([]Identity, error)
	// UpdateIdentity applies fn atomically; ConnectorID, Subject and UserID
	// cannot change.
	UpdateIdentity(ctx context.Context, connectorID, subject string, fn func(*Identity) error) error
	UnlinkIdentity(ctx context.Context, connectorID, subject string) error
}

// Clients stores relying parties.
type Clients interface {
	CreateClient(ctx context.Context, c Client) error // ErrConflict if the ID is taken
	Client(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	UpdateClient(ctx context.Context, id string, fn func(*Client) error) error
	DeleteClient(ctx context.Context, id string) error
}

// Connectors stores connectors defined at run time.
type Connectors interface {
	CreateConnector(ctx context.Context, c ConnectorConfig) error // ErrConflict if the ID is taken
	Connector(ctx context.Context, id string) (ConnectorConfig, error)
	ListConnectors(ctx context.Context) ([]ConnectorConfig, error)
	UpdateConnector(ctx context.Context, id string, fn func(*ConnectorConfig) error) error
	DeleteConnector(ctx context.Context, id string) error
}

// Consents stores remembered consent decisions.
type Consents interface {
	// PutConsent creates or replaces the consent of (UserID, ClientID).
	PutConsent(ctx context.Context, c Consent) error
	Consent(ctx context.Context, userID, clientID string) (Consent, error)
	ConsentsByUser(ctx context.Context, userID string) ([]Consent, error)
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// Audit is the append-only admin audit log.
type Audit interface {
	// AppendAudit stores e; an empty ID is filled in.
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns events at or after since, oldest first, at most
	// limit of them (limit <= 0 means 100).
	ListAudit(ctx context.Context, since time.Time, limit int) ([]AuditEvent, error)
}

// Directory is the durable half of the store.
type Directory interface {
	Users
	Identities
	Clients
	Connectors
	Consents
	Audit
	// Ping reports whether the backend answers (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}
