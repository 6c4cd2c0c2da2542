package storage

import (
	"context"
	"time"
)

// Login is what a finished login established: who, how and when. It travels
// from the auth request to the code, the grant and the SSO session.
type Login struct {
	UserID      string `json:"user_id,omitempty"`
	Claims      Claims `json:"claims"`
	ConnectorID string `json:"connector_id,omitempty"`
	// Subject is the account's subject at the connector (for local users,
	// the user id).
	Subject string `json:"subject,omitempty"`
	// ConnectorData is opaque connector state (an upstream refresh token,
	// say). It may hold secrets: never log it.
	ConnectorData []byte    `json:"connector_data,omitempty"`
	AuthTime      time.Time `json:"auth_time"`
	AMR           []string  `json:"amr,omitempty"`
	// SessionID is the hash of the SSO session this login belongs to, or "".
	SessionID string `json:"session_id,omitempty"`
}

// AuthRequest is an authorization request in progress: the browser flow is a
// state machine over it (chooser, login, consent, code).
type AuthRequest struct {
	ID                  string   `json:"id"` // HashSecret of the id the browser carries
	ClientID            string   `json:"client_id"`
	RedirectURI         string   `json:"redirect_uri"`
	ResponseType        string   `json:"response_type"`
	ResponseMode        string   `json:"response_mode,omitempty"`
	Scopes              []string `json:"scopes,omitempty"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Prompt              []string `json:"prompt,omitempty"`
	// MaxAge is max_age in seconds, or -1 when absent.
	MaxAge        int64  `json:"max_age"`
	LoginHint     string `json:"login_hint,omitempty"`
	ConnectorHint string `json:"connector_hint,omitempty"`
	// Binding is the hash of the secret that binds the request to the
	// browser that started it.
	Binding string `json:"binding,omitempty"`
	// Step is the state of the flow; StepSecret the hash of the one-time
	// secret the next step must present.
	Step       string `json:"step,omitempty"`
	StepSecret string `json:"step_secret,omitempty"`
	// ConnectorID is the connector chosen; ConnectorState is its own
	// per-request state (upstream state, PKCE verifier, SAML request id).
	ConnectorID    string `json:"connector_id,omitempty"`
	ConnectorState []byte `json:"connector_state,omitempty"`
	// Purpose is "" for a client's authorization request; "account" for a
	// login to Foyer's own account page; "link" for adding a login method
	// to the account of LinkUserID, bound to the SSO session LinkSessionID
	// that started it; "device" for approving a device (RFC 8628).
	Purpose       string `json:"purpose,omitempty"`
	LinkUserID    string `json:"link_user_id,omitempty"`
	LinkSessionID string `json:"link_session_id,omitempty"`
	// DeviceUserCode is the user code a "device" request approves.
	DeviceUserCode string `json:"device_user_code,omitempty"`
	// Login is set once the person has logged in.
	Login     *Login    `json:"login,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AuthCode is an authorization code: single use, short-lived.
type AuthCode struct {
	ID                  string   `json:"id"` // HashSecret(code)
	ClientID            string   `json:"client_id"`
	RedirectURI         string   `json:"redirect_uri"`
	Scopes              []string `json:"scopes,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Login               Login    `json:"login"`
	// GrantID is the grant the redemption creates. If the code is presented
	// again, that grant is revoked (RFC 6749 §4.1.2).
	GrantID   string    `json:"grant_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Grant is what one login gave one client: the family every refresh token
// and access token of that login belongs to. Each login starts its own.
type Grant struct {
	ID       string   `json:"id"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes,omitempty"`
	Login    Login    `json:"login"`
	// Offline grants (offline_access) outlive the SSO session.
	Offline   bool      `json:"offline,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the idle expiry, moved forward on each rotation but never
	// past AbsoluteExpiresAt.
	ExpiresAt         time.Time `json:"expires_at"`
	AbsoluteExpiresAt time.Time `json:"absolute_expires_at"`
	Revoked           bool      `json:"revoked,omitempty"`
	RevokedAt         time.Time `json:"revoked_at"`
	// The refresh chain: hashes of the current and the previous token.
	TokenHash    string    `json:"token_hash,omitempty"`
	PreviousHash string    `json:"previous_hash,omitempty"`
	RotatedAt    time.Time `json:"rotated_at"`
	// SuccessorSealed is the current token sealed under a key derived from
	// the previous token, so a retry within the grace window can be given
	// the same successor without the store ever holding it in clear.
	SuccessorSealed []byte `json:"successor_sealed,omitempty"`
}

// Rotation asks to rotate a refresh token.
type Rotation struct {
	TokenHash       string        // hash of the presented token
	ClientID        string        // must be the grant's client
	NewTokenHash    string        // hash of the successor
	SuccessorSealed []byte        // the successor sealed under the presented token
	Grace           time.Duration // a repeat of the previous token within this is a retry
	IdleTTL         time.Duration // the grant's new idle expiry is now+IdleTTL (capped)
	// Claims and ConnectorData replace the grant's when not nil (a connector
	// refreshed them upstream).
	Claims        *Claims
	ConnectorData []byte
}

// Session is a browser's single sign-on session.
type Session struct {
	ID     string `json:"id"` // HashSecret(cookie value)
	UserID string `json:"user_id"`
	Login  Login  `json:"login"`
	// Clients lists the clients that got tokens in this session (for
	// back-channel logout).
	Clients    []string  `json:"clients,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is the idle expiry, never past AbsoluteExpiresAt.
	ExpiresAt         time.Time `json:"expires_at"`
	AbsoluteExpiresAt time.Time `json:"absolute_expires_at"`
}

// Device request statuses.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// DeviceRequest is an RFC 8628 device authorization in progress.
type DeviceRequest struct {
	ID        string    `json:"id"`        // HashSecret(device_code)
	UserCode  string    `json:"user_code"` // normalised; unique among live requests
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes,omitempty"`
	Status    string    `json:"status"`
	Login     *Login    `json:"login,omitempty"` // set on approval
	Claimed   bool      `json:"claimed,omitempty"`
	Interval  int64     `json:"interval"` // seconds
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SigningKey is one signing key. The private half is sealed (AES-256-GCM
// under the key-encryption key); the store never sees it in clear.
type SigningKey struct {
	ID        string    `json:"kid"`
	Algorithm string    `json:"alg"`
	Public    []byte    `json:"public"` // the public JWK, JSON
	Sealed    []byte    `json:"sealed"` // the sealed private key
	CreatedAt time.Time `json:"created_at"`
	// SignFrom is when the key starts signing: it is published in JWKS
	// from CreatedAt, longer than relying parties cache JWKS.
	SignFrom time.Time `json:"sign_from"`
	// RemoveAt, once set, is when the key leaves JWKS: after every token
	// it signed has expired.
	RemoveAt time.Time `json:"remove_at"`
}

// KeySet is the set of signing keys, versioned for compare-and-swap.
type KeySet struct {
	Version   int64        `json:"version"`
	Keys      []SigningKey `json:"keys"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// AuthRequests stores auth requests.
type AuthRequests interface {
	CreateAuthRequest(ctx context.Context, r AuthRequest) error // ErrConflict if the ID exists
	AuthRequest(ctx context.Context, id string) (AuthRequest, error)
	// UpdateAuthRequest replaces a live request (ExpiresAt included).
	// ErrNotFound if it is gone or expired.
	UpdateAuthRequest(ctx context.Context, r AuthRequest) error
	// TakeAuthRequest reads and deletes a request in one atomic step: of
	// concurrent callers, one gets it and the others ErrNotFound.
	TakeAuthRequest(ctx context.Context, id string) (AuthRequest, error)
}

// AuthCodes stores authorization codes.
type AuthCodes interface {
	CreateAuthCode(ctx context.Context, c AuthCode) error // ErrConflict if the ID exists
	// RedeemAuthCode marks a code used and returns it. Must be atomic: of
	// any number of concurrent callers exactly one gets (code, nil); the
	// others, and every later caller until the code expires, get
	// (code, ErrAlreadyUsed). Unknown or expired: ErrNotFound.
	RedeemAuthCode(ctx context.Context, id string) (AuthCode, error)
}

// Grants stores grants and their refresh tokens.
type Grants interface {
	// CreateGrant stores g; if g.TokenHash is set, that refresh token
	// belongs to it. ErrConflict if the grant ID or token hash exists.
	CreateGrant(ctx context.Context, g Grant) error
	// Grant returns a grant, revoked or not. ErrNotFound once expired.
	Grant(ctx context.Context, id string) (Grant, error)
	// GrantByRefreshToken finds the grant a refresh token (current or
	// rotated) belongs to.
	GrantByRefreshToken(ctx context.Context, tokenHash string) (Grant, error)
	// RotateRefreshToken rotates the presented token, atomically:
	//   - unknown token, expired grant, or another client: ErrNotFound,
	//     nothing changes;
	//   - revoked grant: ErrRevoked;
	//   - the current token: the successor becomes current, the presented
	//     one previous; returns (grant, nil, nil);
	//   - the previous token within Grace of the rotation: nothing changes;
	//     returns (grant, grant.SuccessorSealed, nil);
	//   - any other token of the grant: the grant is revoked; ErrReuse.
	// Of concurrent rotations of one current token, exactly one succeeds
	// as a rotation; the others meet the grace or reuse rule.
	RotateRefreshToken(ctx context.Context, r Rotation) (Grant, []byte, error)
	// RevokeGrant revokes a grant and every token in it. Revoking twice is
	// not an error; ErrNotFound if it never existed or expired.
	RevokeGrant(ctx context.Context, id string) error
	// RevokeSessionGrants revokes the non-offline grants of an SSO session
	// and returns how many it revoked.
	RevokeSessionGrants(ctx context.Context, sessionID string) (int, error)
	// GrantsByUser lists a user's live grants (revoked ones included).
	GrantsByUser(ctx context.Context, userID string) ([]Grant, error)
}

// Sessions stores SSO sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error // ErrConflict if the ID exists
	Session(ctx context.Context, id string) (Session, error)
	// TouchSession records activity: LastSeenAt becomes now and ExpiresAt
	// min(now+idle, AbsoluteExpiresAt). Returns the updated session.
	TouchSession(ctx context.Context, id string, idle time.Duration) (Session, error)
	// UpdateSession replaces a live session. ErrNotFound if gone.
	UpdateSession(ctx context.Context, s Session) error
	// DeleteSession removes a session and returns what it was.
	DeleteSession(ctx context.Context, id string) (Session, error)
	SessionsByUser(ctx context.Context, userID string) ([]Session, error)
}

// DeviceRequests stores RFC 8628 device authorizations.
type DeviceRequests interface {
	// CreateDeviceRequest: ErrConflict if the ID or a live user code exists.
	CreateDeviceRequest(ctx context.Context, d DeviceRequest) error
	DeviceRequestByUserCode(ctx context.Context, userCode string) (DeviceRequest, error)
	// UpdateDeviceRequest replaces a live request (approval or denial).
	UpdateDeviceRequest(ctx context.Context, d DeviceRequest) error
	// ClaimDeviceCode is the token endpoint's poll, atomically: an approved,
	// unclaimed request becomes claimed and is returned with nil; a claimed
	// one returns ErrAlreadyUsed; pending or denied ones are returned
	// unchanged with nil. Unknown or expired: ErrNotFound.
	ClaimDeviceCode(ctx context.Context, id string) (DeviceRequest, error)
}

// ReplayCache remembers one-time values (SAML assertion IDs, upstream state).
type ReplayCache interface {
	// Remember stores key until expiresAt. ErrConflict if key is already
	// remembered and not expired. Atomic.
	Remember(ctx context.Context, key string, expiresAt time.Time) error
}

// RateLimits counts events in fixed windows.
type RateLimits interface {
	// Hit adds one to key's counter for the window of the given length that
	// contains now and returns the count after adding.
	Hit(ctx context.Context, key string, window time.Duration) (int64, error)
}

// Keys stores the signing key set.
type Keys interface {
	// KeySet returns the stored key set; ErrNotFound if none was stored.
	KeySet(ctx context.Context) (KeySet, error)
	// SwapKeySet stores next as version expect+1 if the stored version is
	// expect (0: nothing stored yet). ErrConflict otherwise.
	SwapKeySet(ctx context.Context, expect int64, next KeySet) error
}

// Leases are named, expiring locks: one holder at a time (key rotation,
// housekeeping).
type Leases interface {
	// AcquireLease takes the lease for holder until now+ttl if it is free or
	// expired, or renews it if holder already has it. It returns false if
	// another holder has it. Atomic.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease frees the lease if holder has it; otherwise it does
	// nothing.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// State is the sessions-and-keys half of the store.
type State interface {
	AuthRequests
	AuthCodes
	Grants
	Sessions
	DeviceRequests
	ReplayCache
	RateLimits
	Keys
	Leases
	Ping(ctx context.Context) error
	Close() error
}

// Sweeper is implemented by backends whose expired records must be removed
// by a periodic sweep (SQL); backends with native TTLs need none.
type Sweeper interface {
	// Sweep deletes expired records and returns how many it removed.
	Sweep(ctx context.Context) (int, error)
}

// Store is a directory and a state store, which may be the same backend.
type Store struct {
	Directory Directory
	State     State
}
