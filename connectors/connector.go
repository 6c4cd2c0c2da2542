package connectors

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/foyerid/foyer/storage"
)

// Identity is what a connector learned of a person at one login.
type Identity struct {
	// Subject is the stable upstream identifier of the account. It never
	// changes for one account (not an email, which can).
	Subject string
	// LocalUserID is set only by connectors whose accounts are Foyer's own
	// local users (the local connector): the identity is that user.
	LocalUserID   string
	Email         string
	EmailVerified bool
	Name          string
	Username      string
	Groups        []string
	// AMR says how the person authenticated upstream (RFC 8176 values),
	// when the upstream says; it travels into Foyer's own tokens.
	AMR []string
	// Data is opaque state the connector needs again on refresh (an
	// upstream refresh token, say). It may hold secrets: never log it.
	Data []byte
}

// Claims returns the identity's claims in the store's shape.
func (id Identity) Claims() storage.Claims {
	return storage.Claims{
		Email:         id.Email,
		EmailVerified: id.EmailVerified,
		Name:          id.Name,
		Username:      id.Username,
		Groups:        append([]string(nil), id.Groups...),
	}
}

// Scopes tells a connector what the client asked for that matters upstream.
type Scopes struct {
	// OfflineAccess: the login may be refreshed later, so the connector
	// should obtain what it needs for that (an upstream refresh token).
	OfflineAccess bool
	// Groups: the client asked for group membership.
	Groups bool
}

// PasswordConnector checks a username and password (local users, LDAP).
type PasswordConnector interface {
	// Login checks the credentials. Wrong credentials (unknown user
	// included) are (Identity{}, false, nil) and must take the same time as
	// a wrong password; a broken upstream is an error; a policy refusal is a
	// *Refusal.
	Login(ctx context.Context, s Scopes, username, password string) (Identity, bool, error)
	// UsernamePrompt labels the username field ("Email", "Username").
	UsernamePrompt() string
}

// CallbackConnector sends the browser upstream and handles its return at
// /callback/{connector-id} (OIDC, GitHub, SAML).
type CallbackConnector interface {
	// LoginURL returns where to send the browser. state must come back
	// unchanged in the callback; the returned connector state is kept with
	// the auth request and handed to HandleCallback.
	LoginURL(ctx context.Context, s Scopes, callbackURL, state string) (url string, connState []byte, err error)
	// HandleCallback turns the upstream's answer into an identity. The
	// caller has already matched the state.
	HandleCallback(ctx context.Context, s Scopes, connState []byte, r *http.Request) (Identity, error)
}

// FormConnector is a CallbackConnector that must send the browser upstream
// with a POST (the SAML HTTP-POST binding). When a connector implements it
// and LoginForm returns a non-empty action, the gateway renders a form that
// posts fields to action (auto-submitted by a same-origin script, with a
// button when scripts are off) instead of redirecting to LoginURL.
type FormConnector interface {
	CallbackConnector
	LoginForm(ctx context.Context, s Scopes, callbackURL, state string) (action string, fields map[string]string, connState []byte, err error)
}

// MetadataConnector publishes a document its upstream needs (a SAML
// service provider's metadata). The gateway serves it at
// /saml/{connector-id}/metadata.
type MetadataConnector interface {
	MetadataHandler() http.Handler
}

// RefreshConnector re-validates an identity when a client refreshes: the
// account still exists, its groups are current.
type RefreshConnector interface {
	// Refresh returns the identity as it is now. A *Refusal or
	// ErrIdentityGone means the refresh must fail with invalid_grant.
	Refresh(ctx context.Context, s Scopes, id Identity) (Identity, error)
}

// ErrIdentityGone: the upstream account no longer exists or may no longer
// log in.
var ErrIdentityGone = errors.New("connectors: identity no longer valid upstream")

// Refusal is a policy refusal (not in the required organisation, say). Reason
// is shown to the person; Detail goes to the log only.
type Refusal struct {
	Reason string
	Detail string
}

func (r *Refusal) Error() string {
	if r.Detail != "" {
		return "connectors: refused: " + r.Reason + ": " + r.Detail
	}
	return "connectors: refused: " + r.Reason
}

// UpstreamError is a failure reported by the upstream (an OAuth error=
// answer, say). Code goes to the log; the person sees a generic page.
type UpstreamError struct {
	Code        string
	Description string
}

func (e *UpstreamError) Error() string {
	return "connectors: upstream error " + e.Code + ": " + e.Description
}

// Env is what a connector may use from its host when it is opened.
type Env struct {
	// ID is the connector's id; CallbackURL its /callback/{id} URL.
	ID          string
	CallbackURL string
	Issuer      string
	Logger      *slog.Logger // already tagged with connector_id
	HTTPClient  *http.Client
	// Users is the local user directory, for connectors that log in local
	// users.
	Users UserFinder
	// Replay remembers one-time values (assertion IDs).
	Replay storage.ReplayCache
}

// UserFinder finds local users.
type UserFinder interface {
	UserByUsername(ctx context.Context, username string) (storage.User, error)
	UsersByEmail(ctx context.Context, email string) ([]storage.User, error)
	User(ctx context.Context, id string) (storage.User, error)
}
