package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
)

// TypeName is the connector type of the local connector.
const TypeName = "local"

// Config configures the local connector. Every field is optional.
type Config struct {
	// UsernamePrompt labels the login field; default "Email or username".
	UsernamePrompt string `yaml:"usernamePrompt" json:"usernamePrompt,omitempty"`
}

// Type registers the local connector.
var Type = connectors.TypeFor(Open)

// Open returns a local connector reading users through env.Users.
func Open(cfg Config, env connectors.Env) (*Connector, error) {
	if env.Users == nil {
		return nil, errors.New("local: no user directory")
	}
	prompt := cfg.UsernamePrompt
	if prompt == "" {
		prompt = "Email or username"
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Connector{users: env.Users, prompt: prompt, logger: logger}, nil
}

// Connector checks local users' passwords.
type Connector struct {
	users  connectors.UserFinder
	prompt string
	logger *slog.Logger
}

// UsernamePrompt implements connectors.PasswordConnector.
func (c *Connector) UsernamePrompt() string { return c.prompt }

// Login implements connectors.PasswordConnector. The username may be the
// user's username or email (case-insensitive).
func (c *Connector) Login(ctx context.Context, _ connectors.Scopes, username, password string) (connectors.Identity, bool, error) {
	login := strings.ToLower(strings.TrimSpace(username))
	if login == "" || password == "" {
		identity.DummyCheck(password)
		return connectors.Identity{}, false, nil
	}
	u, err := c.find(ctx, login)
	if errors.Is(err, storage.ErrNotFound) {
		identity.DummyCheck(password)
		return connectors.Identity{}, false, nil
	}
	if err != nil {
		return connectors.Identity{}, false, fmt.Errorf("local: find user: %w", err)
	}
	ok, err := identity.CheckPassword(u.PasswordHash, password)
	if err != nil {
		// A hash we cannot read is an operator's problem, not the
		// person's: log it, and answer as for a wrong password.
		c.logger.ErrorContext(ctx, "local: unreadable password hash", "user_id", u.ID, "err", err)
		identity.DummyCheck(password) // no timing difference either
		return connectors.Identity{}, false, nil
	}
	if !ok {
		return connectors.Identity{}, false, nil
	}
	if u.Disabled {
		return connectors.Identity{}, false, &connectors.Refusal{Reason: "This account is disabled.", Detail: "user " + u.ID + " is disabled"}
	}
	return identityOf(u), true, nil
}

// find looks a login up by username, then by email among users with a
// password. Several users sharing one email cannot log in by email.
func (c *Connector) find(ctx context.Context, login string) (storage.User, error) {
	u, err := c.users.UserByUsername(ctx, login)
	if err == nil && u.PasswordHash != "" {
		return u, nil
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, err
	}
	if !strings.Contains(login, "@") {
		return storage.User{}, storage.ErrNotFound
	}
	users, err := c.users.UsersByEmail(ctx, login)
	if err != nil {
		return storage.User{}, err
	}
	var found []storage.User
	for _, u := range users {
		if u.PasswordHash != "" {
			found = append(found, u)
		}
	}
	if len(found) != 1 {
		if len(found) > 1 {
			c.logger.WarnContext(ctx, "local: several users with a password share an email; log in by username", "users", len(found))
		}
		return storage.User{}, storage.ErrNotFound
	}
	return found[0], nil
}

// Refresh implements connectors.RefreshConnector: the user must still exist
// and be enabled; the claims are read again.
func (c *Connector) Refresh(ctx context.Context, _ connectors.Scopes, id connectors.Identity) (connectors.Identity, error) {
	userID := id.LocalUserID
	if userID == "" {
		userID = id.Subject
	}
	u, err := c.users.User(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return connectors.Identity{}, connectors.ErrIdentityGone
	}
	if err != nil {
		return connectors.Identity{}, fmt.Errorf("local: refresh user: %w", err)
	}
	if u.Disabled {
		return connectors.Identity{}, connectors.ErrIdentityGone
	}
	return identityOf(u), nil
}

func identityOf(u storage.User) connectors.Identity {
	return connectors.Identity{
		Subject:       u.ID,
		LocalUserID:   u.ID,
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
		Name:          u.Name,
		Username:      u.Username,
		Groups:        append([]string(nil), u.Groups...),
	}
}

// Interface guards.
var (
	_ connectors.PasswordConnector = (*Connector)(nil)
	_ connectors.RefreshConnector  = (*Connector)(nil)
)
