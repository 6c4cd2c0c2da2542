package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/foyerid/foyer/storage"
)

// User is a local user as the API shows it. Its password hash never leaves
// the store: HasPassword says whether there is one.
type User struct {
	ID            string    `json:"id"`
	Username      string    `json:"username,omitempty"`
	Email         string    `json:"email,omitempty"`
	EmailVerified bool      `json:"emailVerified"`
	Name          string    `json:"name,omitempty"`
	Groups        []string  `json:"groups"`
	HasPassword   bool      `json:"hasPassword"`
	Disabled      bool      `json:"disabled"`
	Static        bool      `json:"static"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt,omitzero"`
	LastLoginAt   time.Time `json:"lastLoginAt,omitzero"`
}

// UserList is the answer of GET /users.
type UserList struct {
	Users []User `json:"users"`
}

// NewUser is the body of POST /users. Username or Email is required; both
// are stored lower-cased. Password, when given, is hashed with argon2id
// and then forgotten.
type NewUser struct {
	Username      string   `json:"username,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"emailVerified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Groups        []string `json:"groups,omitempty"`
	Password      string   `json:"password,omitempty"`
}

// LogValue implements slog.LogValuer: the password never reaches a log.
func (u NewUser) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", u.Username), slog.String("email", u.Email), slog.Bool("password", u.Password != ""))
}

// UserPatch is the body of PATCH /users/{id}: absent (or null) members are
// left as they are. A new Email without EmailVerified is unverified.
// Disabling a user ends their sessions and revokes their grants.
type UserPatch struct {
	Name          *string   `json:"name,omitempty"`
	Email         *string   `json:"email,omitempty"`
	EmailVerified *bool     `json:"emailVerified,omitempty"`
	Groups        *[]string `json:"groups,omitempty"`
	Disabled      *bool     `json:"disabled,omitempty"`
	Password      *string   `json:"password,omitempty"`
}

// LogValue implements slog.LogValuer: the password never reaches a log.
func (p UserPatch) LogValue() slog.Value {
	return slog.GroupValue(slog.String("fields", strings.Join(p.fields(), ",")))
}

func (p UserPatch) fields() []string {
	var f []string
	for name, set := range map[string]bool{
		"name": p.Name != nil, "email": p.Email != nil, "emailVerified": p.EmailVerified != nil,
		"groups": p.Groups != nil, "disabled": p.Disabled != nil, "password": p.Password != nil,
	} {
		if set {
			f = append(f, name)
		}
	}
	slices.Sort(f)
	return f
}

// Password length bounds, in bytes; the upper one is what the hasher takes.
const (
	minPassword = 8
	maxPassword = 1024
)

func userOut(u storage.User) User {
	groups := slices.Clone(u.Groups)
	if groups == nil {
		groups = []string{}
	}
	return User{
		ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		Groups: groups, HasPassword: u.PasswordHash != "", Disabled: u.Disabled, Static: u.Static,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt,
	}
}

func staticUser(id string) *Error {
	return conflict("user %s is declared in the config file and cannot be changed here; edit the config file (users:) and restart", id)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "email", "username")
	if err != nil {
		return err
	}
	var users []storage.User
	switch email, username := q.Get("email"), q.Get("username"); {
	case email != "" && username != "":
		return invalid("email", "give email or username, not both")
	case email != "":
		users, err = s.dir.UsersByEmail(r.Context(), strings.ToLower(email))
	case username != "":
		var u storage.User
		u, err = s.dir.UserByUsername(r.Context(), strings.ToLower(username))
		if err == nil {
			users = []storage.User{u}
		} else if errors.Is(err, storage.ErrNotFound) {
			err = nil
		}
	default:
		users, err = s.dir.ListUsers(r.Context())
	}
	if err != nil {
		return err
	}
	out := UserList{Users: make([]User, 0, len(users))}
	for _, u := range users {
		out.Users = append(out.Users, userOut(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathValue(r, "id", "user")
	if err != nil {
		return err
	}
	u, err := s.dir.User(r.Context(), id)
	if err != nil {
		return lookup(err, "user")
	}
	writeJSON(w, http.StatusOK, userOut(u))
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var in NewUser
	if err := decode(w, r, &in); err != nil {
		return err
	}
	username, err := checkUsername(in.Username)
	if err != nil {
		return err
	}
	email, err := checkEmail(in.Email)
	if err != nil {
		return err
	}
	if username == "" && email == "" {
		return invalid("username", "username or email is required")
	}
	if err := checkName("name", in.Name); err != nil {
		return err
	}
	groups, err := checkGroups(in.Groups)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	u := storage.User{
		ID: storage.NewID(), Username: username, Email: email, EmailVerified: in.EmailVerified && email != "",
		Name: in.Name, Groups: groups, CreatedAt: now, UpdatedAt: now,
	}
	if in.Password != "" {
		if u.PasswordHash, err = s.hash(in.Password); err != nil {
			return err
		}
	}
	if err := s.dir.CreateUser(r.Context(), u); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return conflict("the username %q is taken", username)
		}
		return err
	}
	s.audit(r.Context(), "user.create", u.ID, describeUser(u))
	writeJSON(w, http.StatusCreated, userOut(u))
	return nil
}

// describeUser is an audit detail: who, and whether a password was set.
func describeUser(u storage.User) string {
	d := fmt.Sprintf("username=%q email=%q", u.Username, u.Email)
	if u.PasswordHash != "" {
		d += " password=set"
	}
	return d
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathValue(r, "id", "user")
	if err != nil {
		return err
	}
	var p UserPatch
	if err := decode(w, r, &p); err != nil {
		return err
	}
	fields := p.fields()
	if len(fields) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "nothing to change"}
	}
	var email string
	if p.Email != nil {
		if email, err = checkEmail(*p.Email); err != nil {
			return err
		}
	}
	if p.Name != nil {
		if err := checkName("name", *p.Name); err != nil {
			return err
		}
	}
	var groups []string
	if p.Groups != nil {
		if groups, err = checkGroups(*p.Groups); err != nil {
			return err
		}
	}
	var hash string
	if p.Password != nil {
		// Checked against the record before the (slow) hash is made.
		if _, err := s.mutableUser(r.Context(), id); err != nil {
			return err
		}
		if hash, err = s.hash(*p.Password); err != nil {
			return err
		}
	}
	var updated storage.User
	wasDisabled := false
	err = s.dir.UpdateUser(r.Context(), id, func(u *storage.User) error {
		if u.Static {
			return staticUser(u.ID)
		}
		wasDisabled = u.Disabled
		if p.Email != nil {
			if email == "" && u.Username == "" {
				return invalid("email", "a user without a username needs an email")
			}
			if email != u.Email {
				u.EmailVerified = false
			}
			u.Email = email
		}
		if p.EmailVerified != nil {
			u.EmailVerified = *p.EmailVerified
		}
		u.EmailVerified = u.EmailVerified && u.Email != ""
		if p.Name != nil {
			u.Name = *p.Name
		}
		if p.Groups != nil {
			u.Groups = groups
		}
		if p.Disabled != nil {
			u.Disabled = *p.Disabled
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		u.UpdatedAt = s.now().UTC()
		updated = *u
		return nil
	})
	if err != nil {
		return lookup(err, "user")
	}
	detail := "set: " + strings.Join(fields, ",")
	if updated.Disabled && !wasDisabled {
		sessions, grants, err := s.endUserAccess(r.Context(), id)
		detail += fmt.Sprintf("; ended %d sessions, revoked %d grants", sessions, grants)
		if err != nil {
			s.audit(r.Context(), "user.update", id, detail+" (incomplete)")
			return err
		}
	}
	s.audit(r.Context(), "user.update", id, detail)
	writeJSON(w, http.StatusOK, userOut(updated))
	return nil
}

// mutableUser returns a user the API may change: 404 if unknown, 409 if
// static.
func (s *Server) mutableUser(ctx context.Context, id string) (storage.User, error) {
	u, err := s.dir.User(ctx, id)
	if err != nil {
		return storage.User{}, lookup(err, "user")
	}
	if u.Static {
		return storage.User{}, staticUser(id)
	}
	return u, nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathValue(r, "id", "user")
	if err != nil {
		return err
	}
	if _, err := s.mutableUser(ctx, id); err != nil {
		return err
	}
	// Access ends first, so a failure leaves a user who must log in again,
	// never a deleted user whose tokens still work.
	sessions, grants, err := s.endUserAccess(ctx, id)
	if err != nil {
		return err
	}
	if err := s.dir.DeleteUser(ctx, id); err != nil {
		return lookup(err, "user")
	}
	// A login that finished in between: best effort, logged.
	if n, m, err := s.endUserAccess(ctx, id); err != nil {
		s.logger.WarnContext(ctx, "admin: end access of a deleted user", "user_id", id, "err", err)
	} else {
		sessions, grants = sessions+n, grants+m
	}
	s.audit(ctx, "user.delete", id, fmt.Sprintf("ended %d sessions, revoked %d grants", sessions, grants))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endUserAccess ends every session of a user (with back-channel logout) and
// revokes every grant, offline ones included. It returns how many of each.
func (s *Server) endUserAccess(ctx context.Context, userID string) (int, int, error) {
	sessions, err := s.state.SessionsByUser(ctx, userID)
	if err != nil {
		return 0, 0, err
	}
	for _, sess := range sessions {
		s.endSession(ctx, sess)
	}
	grants, err := s.state.GrantsByUser(ctx, userID)
	if err != nil {
		return len(sessions), 0, err
	}
	revoked := 0
	for _, g := range grants {
		if g.Revoked {
			continue
		}
		if err := s.state.RevokeGrant(ctx, g.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return len(sessions), revoked, err
		}
		revoked++
	}
	return len(sessions), revoked, nil
}

// hash hashes a password after checking its length.
func (s *Server) hash(password string) (string, error) {
	switch {
	case utf8.RuneCountInString(password) < minPassword:
		return "", invalid("password", "at least %d characters", minPassword)
	case len(password) > maxPassword:
		return "", invalid("password", "at most %d bytes", maxPassword)
	}
	h, err := s.hashPassword(password)
	if err != nil {
		return "", fmt.Errorf("admin: hash password: %w", err)
	}
	return h, nil
}

func checkUsername(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if strings.TrimSpace(v) != v || !cleanText(v) || len(v) > 256 {
		return "", invalid("username", "must be at most 256 bytes, without control characters or surrounding spaces")
	}
	return strings.ToLower(v), nil
}

func checkEmail(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if a, err := mail.ParseAddress(v); err != nil || a.Address != v || len(v) > 320 {
		return "", invalid("email", "%q is not a plain email address (alice@example.com)", v)
	}
	return strings.ToLower(v), nil
}

func checkName(field, v string) error {
	if !cleanText(v) || len(v) > 256 {
		return invalid(field, "must be at most 256 bytes, without control characters")
	}
	return nil
}

func checkGroups(gs []string) ([]string, error) {
	if len(gs) > 256 {
		return nil, invalid("groups", "at most 256 groups")
	}
	out := make([]string, 0, len(gs))
	for i, g := range gs {
		field := fmt.Sprintf("groups[%d]", i)
		if strings.TrimSpace(g) == "" {
			return nil, invalid(field, "must not be empty")
		}
		if err := checkName(field, g); err != nil {
			return nil, err
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// Interface guards.
var (
	_ slog.LogValuer = NewUser{}
	_ slog.LogValuer = UserPatch{}
)
