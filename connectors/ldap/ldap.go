package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/internal/config"
)

// TypeName is the connector type of the LDAP connector.
const TypeName = "ldap"

// Type registers the LDAP connector.
var Type = connectors.TypeFor(Open)

// Connector checks passwords against an LDAP directory. It is safe for
// concurrent use; every Login and Refresh opens its own connection.
type Connector struct {
	cfg                            Config // with defaults
	hosts                          []string
	ldaps, startTLS                bool
	tls                            *tls.Config // nil with insecureNoTLS
	bindDN, bindPassword           string
	connectTimeout, requestTimeout time.Duration
	userAttrs                      []string
	logger                         *slog.Logger
}

// Open checks cfg, reads the files it names (rootCA, bindPasswordFile)
// and returns the connector. It does not contact the directory.
func Open(cfg Config, env connectors.Env) (*Connector, error) {
	if ps := cfg.Validate(); len(ps) > 0 {
		return nil, fmt.Errorf("ldap: invalid config: %w", config.Problems(ps))
	}
	cfg = cfg.withDefaults()
	c := &Connector{
		cfg:            cfg,
		ldaps:          !cfg.StartTLS && !cfg.InsecureNoTLS,
		startTLS:       cfg.StartTLS,
		bindDN:         cfg.BindDN,
		bindPassword:   cfg.BindPassword.Reveal(),
		connectTimeout: cfg.Timeouts.Connect.Std(),
		requestTimeout: cfg.Timeouts.Request.Std(),
		logger:         env.Logger,
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	port := defaultLDAPPort
	if c.ldaps {
		port = defaultLDAPSPort
	}
	for _, h := range cfg.Hosts {
		host, p, err := splitHost(h, port)
		if err != nil {
			return nil, fmt.Errorf("ldap: hosts: %w", err)
		}
		c.hosts = append(c.hosts, net.JoinHostPort(host, p))
	}
	if cfg.BindPasswordFile != "" {
		b, err := os.ReadFile(cfg.BindPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("ldap: bindPasswordFile: %w", err)
		}
		c.bindPassword = strings.TrimRight(string(b), "\r\n")
		if c.bindPassword == "" {
			return nil, fmt.Errorf("ldap: bindPasswordFile %s is empty", cfg.BindPasswordFile)
		}
	}
	if !cfg.InsecureNoTLS {
		// InsecureSkipVerify is the operator's explicit, insecure choice.
		c.tls = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
		pemData := []byte(cfg.RootCAData)
		if cfg.RootCA != "" {
			var err error
			if pemData, err = os.ReadFile(cfg.RootCA); err != nil {
				return nil, fmt.Errorf("ldap: rootCA: %w", err)
			}
		}
		if len(pemData) > 0 {
			c.tls.RootCAs = x509.NewCertPool()
			if !c.tls.RootCAs.AppendCertsFromPEM(pemData) {
				return nil, errors.New("ldap: rootCA: no PEM certificate in it")
			}
		}
	}
	us := cfg.UserSearch
	attrs := []string{us.Username, us.EmailAttr, us.NameAttr, us.PreferredUsernameAttr}
	if !isDN(us.IDAttr) {
		attrs = append(attrs, us.IDAttr)
	}
	if cfg.MemberOfAttr != "" {
		attrs = append(attrs, cfg.MemberOfAttr)
	}
	for _, m := range cfg.GroupSearch.UserMatchers {
		if !isDN(m.UserAttr) {
			attrs = append(attrs, m.UserAttr)
		}
	}
	slices.Sort(attrs)
	c.userAttrs = slices.Compact(attrs)
	return c, nil
}

// UsernamePrompt implements connectors.PasswordConnector.
func (c *Connector) UsernamePrompt() string { return c.cfg.UsernamePrompt }

// refreshData is Identity.Data: what Refresh needs to find the user
// again. It holds no password.
type refreshData struct {
	DN       string `json:"dn"`
	Username string `json:"username"`
}

// Login implements connectors.PasswordConnector. An empty username or
// password is refused before any network I/O, so that no unauthenticated
// bind (RFC 4513 §5.1.2) can pass for a login. The username is escaped
// (RFC 4515) and must match exactly one entry, whose DN then binds with
// the password. An unknown user costs a bind too, so that it takes as
// long as a wrong password.
func (c *Connector) Login(ctx context.Context, _ connectors.Scopes, username, password string) (connectors.Identity, bool, error) {
	username = strings.TrimSpace(username)
	if username == "" || password == "" {
		return connectors.Identity{}, false, nil
	}
	s, err := c.open(ctx)
	if err != nil {
		return connectors.Identity{}, false, err
	}
	defer s.close()
	user, err := s.findUser(username)
	if err != nil {
		return connectors.Identity{}, false, err
	}
	dn := "cn=foyer-no-such-user," + c.cfg.UserSearch.BaseDN
	if user != nil {
		dn = user.DN
	}
	if err := s.conn.Bind(dn, password); err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return connectors.Identity{}, false, nil
		}
		return connectors.Identity{}, false, s.fail("bind as the user", err)
	}
	if user == nil {
		// The directory accepted a bind as a DN that was not found: it
		// must not count.
		c.logger.ErrorContext(ctx, "ldap: the directory accepted a password for a user that was not found", "dn", dn)
		return connectors.Identity{}, false, nil
	}
	// Groups are read as the service account: users often may not.
	if err := s.bindService(); err != nil {
		return connectors.Identity{}, false, err
	}
	id, err := c.identityOf(s, user)
	if err != nil {
		return connectors.Identity{}, false, err
	}
	return id, true, nil
}

// Refresh implements connectors.RefreshConnector. The entry is read again
// by its DN, or, if it moved, found again by its username; either way it
// must still match the user search and have the same subject, or the
// identity is gone (connectors.ErrIdentityGone). Groups are read anew.
func (c *Connector) Refresh(ctx context.Context, _ connectors.Scopes, id connectors.Identity) (connectors.Identity, error) {
	var d refreshData
	if err := json.Unmarshal(id.Data, &d); err != nil || d.DN == "" {
		return connectors.Identity{}, fmt.Errorf("ldap: refresh: unreadable connector data: %w", connectors.ErrIdentityGone)
	}
	s, err := c.open(ctx)
	if err != nil {
		return connectors.Identity{}, err
	}
	defer s.close()
	user, err := s.userByDN(d.DN)
	if err != nil {
		return connectors.Identity{}, err
	}
	if user == nil && d.Username != "" {
		if user, err = s.findUser(d.Username); err != nil {
			return connectors.Identity{}, err
		}
	}
	if user == nil {
		return connectors.Identity{}, connectors.ErrIdentityGone
	}
	fresh, err := c.identityOf(s, user)
	if err != nil {
		return connectors.Identity{}, err
	}
	if fresh.Subject != id.Subject {
		c.logger.WarnContext(ctx, "ldap: refresh found another entry than the one logged in", "dn", user.DN)
		return connectors.Identity{}, connectors.ErrIdentityGone
	}
	return fresh, nil
}

// identityOf reads the identity from the user's entry, and the groups.
func (c *Connector) identityOf(s *session, e *goldap.Entry) (connectors.Identity, error) {
	us := c.cfg.UserSearch
	subject, err := idValue(e, us.IDAttr)
	if err != nil {
		return connectors.Identity{}, err
	}
	groups, err := s.groups(e)
	if err != nil {
		return connectors.Identity{}, err
	}
	data, err := json.Marshal(refreshData{DN: e.DN, Username: e.GetEqualFoldAttributeValue(us.Username)})
	if err != nil {
		return connectors.Identity{}, fmt.Errorf("ldap: connector data: %w", err)
	}
	email := e.GetEqualFoldAttributeValue(us.EmailAttr)
	return connectors.Identity{
		Subject:       subject,
		Email:         email,
		EmailVerified: us.EmailVerified && email != "",
		Name:          e.GetEqualFoldAttributeValue(us.NameAttr),
		Username:      e.GetEqualFoldAttributeValue(us.PreferredUsernameAttr),
		Groups:        groups,
		Data:          data,
	}, nil
}

// Interface guards.
var (
	_ connectors.PasswordConnector = (*Connector)(nil)
	_ connectors.RefreshConnector  = (*Connector)(nil)
	_ config.Validator             = Config{}
)
