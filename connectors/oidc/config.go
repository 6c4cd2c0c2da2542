package oidc

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/foyerid/foyer/internal/config"
)

// Defaults, documented in docs/connectors/oidc.md.
const (
	DefaultUserIDKey        = "sub"
	DefaultUserNameKey      = "preferred_username"
	DefaultEmailKey         = "email"
	DefaultEmailVerifiedKey = "email_verified"
	DefaultNameKey          = "name"
	DefaultGroupsKey        = "groups"
)

// Scope values (OIDC Core §3.1.2.1, §5.4, §11).
const (
	scopeOpenID        = "openid"
	scopeProfile       = "profile"
	scopeEmail         = "email"
	scopeOfflineAccess = "offline_access"
)

// DefaultScopes are asked for when the config lists none.
var DefaultScopes = []string{scopeOpenID, scopeProfile, scopeEmail}

// DefaultSigningAlgs are the ID token algorithms accepted when the config
// lists none.
var DefaultSigningAlgs = []string{"RS256", "ES256", "EdDSA"}

// asymmetricAlgs are the JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1) an
// upstream may sign ID tokens with: public-key signatures only. HMAC
// (HS256...) is never accepted, since the only keys we know of an upstream
// are its public ones, and "none" signs nothing.
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// promptValues are the prompt values of OIDC Core §3.1.2.1.
var promptValues = []string{"none", "login", "consent", "select_account"}

// Config configures the oidc connector. docs/connectors/oidc.md describes
// every key. Validate checks it without I/O; Open applies the defaults.
type Config struct {
	// Issuer is the upstream's issuer URL. Discovery is read from
	// Issuer + "/.well-known/openid-configuration", and the issuer it
	// names must be exactly this one.
	Issuer string `yaml:"issuer" json:"issuer"`
	// ClientID is Foyer's client id at the upstream.
	ClientID string `yaml:"clientID" json:"clientID"`
	// ClientSecret is Foyer's client secret at the upstream.
	ClientSecret config.Secret `yaml:"clientSecret" json:"clientSecret,omitempty"`
	// RedirectURI is the callback registered at the upstream. Default:
	// Foyer's own /callback/{connector-id}.
	RedirectURI string `yaml:"redirectURI" json:"redirectURI,omitempty"`
	// Scopes are asked for at every login. Default openid, profile, email;
	// openid is required. offline_access is added when the client asked
	// for it and the upstream supports it.
	Scopes []string `yaml:"scopes" json:"scopes,omitempty"`
	// GroupsScope is added to Scopes when the client asked for groups
	// ("groups" for an upstream Foyer). Default none.
	GroupsScope string `yaml:"groupsScope" json:"groupsScope,omitempty"`
	// UserIDKey is the claim holding the stable user id. Default sub.
	UserIDKey string `yaml:"userIDKey" json:"userIDKey,omitempty"`
	// UserNameKey is the claim holding the username. Default
	// preferred_username.
	UserNameKey string `yaml:"userNameKey" json:"userNameKey,omitempty"`
	// EmailKey is the claim holding the email. Default email.
	EmailKey string `yaml:"emailKey" json:"emailKey,omitempty"`
	// EmailVerifiedKey is the claim saying the email is verified. Default
	// email_verified.
	EmailVerifiedKey string `yaml:"emailVerifiedKey" json:"emailVerifiedKey,omitempty"`
	// NameKey is the claim holding the display name. Default name.
	NameKey string `yaml:"nameKey" json:"nameKey,omitempty"`
	// GroupsKey is the claim holding the groups. Default groups.
	GroupsKey string `yaml:"groupsKey" json:"groupsKey,omitempty"`
	// GetUserInfo also reads the userinfo endpoint after the token
	// exchange; its claims override the ID token's (sub must match).
	GetUserInfo bool `yaml:"getUserInfo" json:"getUserInfo,omitempty"`
	// HostedDomains, when set, admits only accounts whose hd claim
	// (Google Workspace) is one of them; the first is sent as the hd hint
	// (or "*" when there are several).
	HostedDomains []string `yaml:"hostedDomains" json:"hostedDomains,omitempty"`
	// PromptType is sent upstream as prompt= (consent, login,
	// select_account, several separated by spaces). Default none sent.
	PromptType string `yaml:"promptType" json:"promptType,omitempty"`
	// SigningAlgs are the ID token signing algorithms accepted. Default
	// RS256, ES256, EdDSA. none and HMAC (HS256...) are refused.
	SigningAlgs []string `yaml:"signingAlgs" json:"signingAlgs,omitempty"`
	// InsecureSkipEmailVerified treats every email the upstream gives as
	// verified, even when it says otherwise or says nothing. Only for an
	// upstream known to verify every email it hands out.
	InsecureSkipEmailVerified bool `yaml:"insecureSkipEmailVerified" json:"insecureSkipEmailVerified,omitempty"`
}

// withDefaults returns c with every unset value filled in.
func (c Config) withDefaults() Config {
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(DefaultScopes)
	}
	if len(c.SigningAlgs) == 0 {
		c.SigningAlgs = slices.Clone(DefaultSigningAlgs)
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.UserIDKey, DefaultUserIDKey)
	def(&c.UserNameKey, DefaultUserNameKey)
	def(&c.EmailKey, DefaultEmailKey)
	def(&c.EmailVerifiedKey, DefaultEmailVerifiedKey)
	def(&c.NameKey, DefaultNameKey)
	def(&c.GroupsKey, DefaultGroupsKey)
	c.HostedDomains = slices.Clone(c.HostedDomains)
	for i, d := range c.HostedDomains {
		c.HostedDomains[i] = strings.ToLower(d)
	}
	return c
}

// Validate implements config.Validator: it returns every problem, with
// paths relative to the connector's config block. It does no I/O.
func (c Config) Validate() []config.Problem {
	var ps []config.Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, config.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Issuer == "" {
		add("issuer", "required: the upstream's issuer URL, e.g. https://accounts.google.com")
	} else if msg := checkURL(c.Issuer); msg != "" {
		add("issuer", "%s", msg)
	}
	if c.ClientID == "" {
		add("clientID", "required")
	}
	if c.ClientSecret == "" {
		add("clientSecret", "required, e.g. ${UPSTREAM_CLIENT_SECRET}")
	}
	if c.RedirectURI != "" {
		if msg := checkURL(c.RedirectURI); msg != "" {
			add("redirectURI", "%s", msg)
		}
	}
	if len(c.Scopes) > 0 && !slices.Contains(c.Scopes, scopeOpenID) {
		add("scopes", "must include openid")
	}
	for i, s := range c.Scopes {
		if !validScope(s) {
			add(fmt.Sprintf("scopes[%d]", i), "%q is not a scope: one word of printable characters", s)
		}
	}
	if c.GroupsScope != "" && !validScope(c.GroupsScope) {
		add("groupsScope", "%q is not a scope: one word of printable characters", c.GroupsScope)
	}
	for i, d := range c.HostedDomains {
		if d == "" || strings.ContainsAny(d, "@/ *") {
			add(fmt.Sprintf("hostedDomains[%d]", i), "%q is not a domain name, e.g. example.com", d)
		}
	}
	if c.PromptType != "" {
		vals := strings.Fields(c.PromptType)
		for _, v := range vals {
			if !slices.Contains(promptValues, v) {
				add("promptType", "%q is not a prompt value: use consent, login, select_account or none", v)
			}
		}
		if slices.Contains(vals, "none") && len(vals) > 1 {
			add("promptType", "none cannot be combined with other values (OIDC Core §3.1.2.1)")
		}
	}
	for i, a := range c.SigningAlgs {
		path := fmt.Sprintf("signingAlgs[%d]", i)
		switch {
		case strings.EqualFold(a, "none"):
			add(path, "none is never accepted: an unsigned token proves nothing")
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			add(path, "%s is refused: HMAC would let anyone who knows the upstream's public key sign tokens", a)
		case !slices.Contains(asymmetricAlgs, a):
			add(path, "%q is not a supported algorithm: use %s", a, strings.Join(asymmetricAlgs, ", "))
		}
	}
	return ps
}

// checkURL returns what is wrong with an issuer or redirect URL, or "".
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "must be an absolute URL, e.g. https://id.example.com"
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		return "must use https (http only for a loopback host)"
	case u.User != nil:
		return "must not contain a user name or password"
	case u.RawQuery != "" || u.ForceQuery:
		return "must not have a query"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment"
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// validScope: a scope token is one or more printable ASCII characters
// other than space, double quote and backslash (RFC 6749 §3.3).
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return false
		}
	}
	return true
}
