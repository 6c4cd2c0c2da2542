package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/storage"
)

// Sentinel errors of the Linker.
var (
	// ErrDisabled: the local user is disabled.
	ErrDisabled = errors.New("identity: user disabled")
	// ErrSignupDenied: no user is linked to this identity and the
	// connector's policy does not create one.
	ErrSignupDenied = errors.New("identity: no linked user and signup is denied")
	// ErrLinkConflict: the identity is already linked to another user.
	ErrLinkConflict = errors.New("identity: identity linked to another user")
)

// Policy is a connector's linking policy.
type Policy struct {
	// Signup creates a local user at an identity's first login.
	Signup bool
	// LinkByVerifiedEmail links a new identity to the one existing user
	// with the same verified email, when the upstream says the email is
	// verified. Only for connectors trusted to verify emails.
	LinkByVerifiedEmail bool
}

// LinkStore is what the Linker needs of the directory.
type LinkStore interface {
	CreateUser(ctx context.Context, u storage.User) error
	User(ctx context.Context, id string) (storage.User, error)
	UserByUsername(ctx context.Context, username string) (storage.User, error)
	UsersByEmail(ctx context.Context, email string) ([]storage.User, error)
	UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) error
	DeleteUser(ctx context.Context, id string) error
	LinkIdentity(ctx context.Context, id storage.Identity) error
	Identity(ctx context.Context, connectorID, subject string) (storage.Identity, error)
	UpdateIdentity(ctx context.Context, connectorID, subject string, fn func(*storage.Identity) error) error
}

// Linker resolves the identity a connector returned to one local user.
type Linker struct {
	store  LinkStore
	now    func() time.Time
	logger *slog.Logger
}

// NewLinker returns a Linker over store.
func NewLinker(store LinkStore, now func() time.Time, logger *slog.Logger) *Linker {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Linker{store: store, now: now, logger: logger}
}

// Resolve returns the local user behind id, creating or linking one as the
// policy allows, and records the login (last use, claims last seen).
func (l *Linker) Resolve(ctx context.Context, connectorID string, p Policy, id connectors.Identity) (storage.User, error) {
	now := l.now().UTC()
	if id.LocalUserID != "" {
		return l.touchUser(ctx, id.LocalUserID, now)
	}
	if id.Subject == "" {
		return storage.User{}, fmt.Errorf("identity: connector %q returned no subject", connectorID)
	}
	for attempt := 0; attempt < 3; attempt++ {
		link, err := l.store.Identity(ctx, connectorID, id.Subject)
		if err == nil {
			err = l.store.UpdateIdentity(ctx, connectorID, id.Subject, func(i *storage.Identity) error {
				i.Claims = id.Claims()
				i.ConnectorData = id.Data
				i.LastUsedAt = now
				return nil
			})
			if err != nil {
				return storage.User{}, fmt.Errorf("identity: update link: %w", err)
			}
			return l.touchUser(ctx, link.UserID, now)
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return storage.User{}, fmt.Errorf("identity: find link: %w", err)
		}
		u, err := l.firstLogin(ctx, connectorID, p, id, now)
		if errors.Is(err, storage.ErrConflict) {
			// A concurrent first login linked it: read the link again.
			continue
		}
		return u, err
	}
	return storage.User{}, fmt.Errorf("identity: link %s/%s: %w", connectorID, id.Subject, storage.ErrConflict)
}

func (l *Linker) firstLogin(ctx context.Context, connectorID string, p Policy, id connectors.Identity, now time.Time) (storage.User, error) {
	link := storage.Identity{
		ConnectorID: connectorID, Subject: id.Subject, Claims: id.Claims(),
		ConnectorData: id.Data, LinkedAt: now, LastUsedAt: now,
	}
	email := strings.ToLower(strings.TrimSpace(id.Email))
	if p.LinkByVerifiedEmail && id.EmailVerified && email != "" {
		users, err := l.store.UsersByEmail(ctx, email)
		if err != nil {
			return storage.User{}, fmt.Errorf("identity: users by email: %w", err)
		}
		var verified []storage.User
		for _, u := range users {
			if u.EmailVerified {
				verified = append(verified, u)
			}
		}
		if len(verified) == 1 {
			if verified[0].Disabled {
				// Refuse before linking, so a refused login leaves no link.
				return storage.User{}, ErrDisabled
			}
			link.UserID = verified[0].ID
			if err := l.store.LinkIdentity(ctx, link); err != nil {
				return storage.User{}, fmt.Errorf("identity: link by email: %w", err)
			}
			l.logger.InfoContext(ctx, "identity linked by verified email", "connector_id", connectorID, "user_id", link.UserID)
			return l.touchUser(ctx, link.UserID, now)
		}
	}
	if !p.Signup {
		return storage.User{}, ErrSignupDenied
	}
	u := storage.User{
		ID: storage.NewID(), Email: email, EmailVerified: id.EmailVerified && email != "",
		// Groups stay with the identity (and so follow the upstream); a
		// user's own Groups are those an administrator gives.
		Name:      id.Name,
		CreatedAt: now, UpdatedAt: now, LastLoginAt: now,
	}
	if name := strings.ToLower(strings.TrimSpace(id.Username)); name != "" {
		if _, err := l.store.UserByUsername(ctx, name); errors.Is(err, storage.ErrNotFound) {
			u.Username = name
		}
	}
	if err := l.store.CreateUser(ctx, u); errors.Is(err, storage.ErrConflict) && u.Username != "" {
		u.Username = "" // taken meanwhile: the user goes without one
		err = l.store.CreateUser(ctx, u)
		if err != nil {
			return storage.User{}, fmt.Errorf("identity: create user: %w", err)
		}
	} else if err != nil {
		return storage.User{}, fmt.Errorf("identity: create user: %w", err)
	}
	link.UserID = u.ID
	if err := l.store.LinkIdentity(ctx, link); err != nil {
		// Lost a race with another first login: drop our user.
		if derr := l.store.DeleteUser(ctx, u.ID); derr != nil {
			l.logger.ErrorContext(ctx, "identity: remove orphan user", "user_id", u.ID, "err", derr)
		}
		return storage.User{}, fmt.Errorf("identity: link new user: %w", err)
	}
	l.logger.InfoContext(ctx, "identity: new user", "connector_id", connectorID, "user_id", u.ID)
	return u, nil
}

func (l *Linker) touchUser(ctx context.Context, userID string, now time.Time) (storage.User, error) {
	var out storage.User
	err := l.store.UpdateUser(ctx, userID, func(u *storage.User) error {
		if u.Disabled {
			return ErrDisabled
		}
		u.LastLoginAt = now
		out = *u
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrDisabled) {
			return storage.User{}, err
		}
		return storage.User{}, fmt.Errorf("identity: user %s: %w", userID, err)
	}
	return out, nil
}
