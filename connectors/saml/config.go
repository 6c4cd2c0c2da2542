package saml

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/foyerid/foyer/internal/config"
)

// Bindings of the AuthnRequest (saml-bindings-2.0-os §3.4, §3.5).
const (
	BindingRedirect = "redirect"
	BindingPost     = "post"
)

// Which signature a response must carry (saml-profiles-2.0-os §4.1.3.5):
// on the Response, on the Assertion, or on either. A signature is always
// required.
const (
	SignedResponse  = "response"
	SignedAssertion = "assertion"
	SignedEither    = "either"
)

// NameID formats accepted by their short names (saml-core-2.0-os §8.3).
// Any other value must be a full URI. The transient format is refused: a
// transient NameID changes at every login and cannot identify a person.
var nameIDFormats = map[string]string{
	"persistent":   "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
	"emailAddress": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
	"unspecified":  "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
}

const transientNameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

// Defaults, documented in docs/connectors/saml.md.
const (
	DefaultClockSkew    = 90 * time.Second
	DefaultNameIDFormat = "persistent"
	// MaxClockSkew is the largest clockSkew: crewjam/saml itself allows
	// no more (saml.MaxClockSkew), so a larger one could not be honoured.
	MaxClockSkew = 3 * time.Minute
)

// Default attribute names, tried in order: the LDAP/eduPerson names, their
// OIDs (urn:oid form, as Shibboleth and Keycloak send them) and the claim
// URIs of ADFS and Entra ID. An attribute matches by its Name or its
// FriendlyName.
var (
	DefaultUsernameAttr = []string{"uid", "urn:oid:0.9.2342.19200300.100.1.1", "username"}
	DefaultEmailAttr    = []string{"email", "mail", "urn:oid:0.9.2342.19200300.100.1.3",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"}
	DefaultNameAttr = []string{"displayName", "name", "cn", "urn:oid:2.16.840.1.113730.3.1.241", "urn:oid:2.5.4.3",
		"http://schemas.microsoft.com/identity/claims/displayname"}
	DefaultGroupsAttr = []string{"groups", "memberOf", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"}
)

// Config configures the SAML connector. Exactly one of IDPMetadataURL,
// IDPMetadataFile and IDPMetadataData is required; everything else has a
// default.
type Config struct {
	// EntityID is Foyer's SP entity ID, the audience the IdP must name.
	// Default: {issuer}/saml/{connector id}/metadata, the URL the SP
	// metadata is served at.
	EntityID string `yaml:"entityID" json:"entityID,omitempty"`
	// IDPMetadataURL is fetched at the first login, with a timeout, and
	// cached (refreshed hourly, the last good copy kept when the IdP is
	// down). https, or http on a loopback host.
	IDPMetadataURL string `yaml:"idpMetadataURL" json:"idpMetadataURL,omitempty"`
	// IDPMetadataFile is a file holding the IdP metadata, read at start.
	IDPMetadataFile string `yaml:"idpMetadataFile" json:"idpMetadataFile,omitempty"`
	// IDPMetadataData is the IdP metadata document itself.
	IDPMetadataData string `yaml:"idpMetadataData" json:"idpMetadataData,omitempty"`
	// SSOURL overrides the IdP's single sign-on URL from the metadata (for
	// the configured binding). The signing certificate still comes from
	// the metadata.
	SSOURL string `yaml:"ssoURL" json:"ssoURL,omitempty"`
	// SPCertFile and SPKeyFile (PEM) are the SP's certificate and private
	// key. When set, AuthnRequests are signed, the certificate is
	// published in the SP metadata and, for an RSA key, the IdP may
	// encrypt assertions to it. Both or neither.
	SPCertFile string `yaml:"spCertFile" json:"spCertFile,omitempty"`
	SPKeyFile  string `yaml:"spKeyFile" json:"spKeyFile,omitempty"`
	// Binding sends the AuthnRequest by "redirect" (HTTP-Redirect, the
	// default) or "post" (HTTP-POST). Responses always come back by
	// HTTP-POST.
	Binding string `yaml:"binding" json:"binding,omitempty"`
	// RequireSigned says what the IdP must sign: "response", "assertion"
	// or "either" (the default). An unsigned answer is always refused.
	RequireSigned string `yaml:"requireSigned" json:"requireSigned,omitempty"`
	// NameIDFormat is the NameID format asked for: "persistent" (the
	// default), "emailAddress", "unspecified" or a full URI. The NameID is
	// the identity's stable subject, so transient is refused.
	NameIDFormat string `yaml:"nameIDFormat" json:"nameIDFormat,omitempty"`
	// UsernameAttr, EmailAttr, NameAttr and GroupsAttr are the attribute
	// names (Name or FriendlyName) read for each claim, in order of
	// preference; each replaces its default list.
	UsernameAttr []string `yaml:"usernameAttr" json:"usernameAttr,omitempty"`
	EmailAttr    []string `yaml:"emailAttr" json:"emailAttr,omitempty"`
	NameAttr     []string `yaml:"nameAttr" json:"nameAttr,omitempty"`
	GroupsAttr   []string `yaml:"groupsAttr" json:"groupsAttr,omitempty"`
	// AllowedGroups, when set, refuses people in none of these groups.
	AllowedGroups []string `yaml:"allowedGroups" json:"allowedGroups,omitempty"`
	// EmailVerified marks the IdP's emails as verified. Off by default:
	// say so only for an IdP that verifies every address it asserts.
	EmailVerified bool `yaml:"emailVerified" json:"emailVerified,omitempty"`
	// ClockSkew is the tolerance on the assertion's validity times;
	// default 90s, at most 3m.
	ClockSkew config.Duration `yaml:"clockSkew" json:"clockSkew,omitzero"`
	// InsecureAllowSHA1 accepts signatures made with SHA-1, which is
	// broken for signatures. Only for an IdP that cannot do better.
	InsecureAllowSHA1 bool `yaml:"insecureAllowSHA1" json:"insecureAllowSHA1,omitempty"`
}

// Validate checks the config without any I/O and returns every problem,
// with paths relative to the connector's config block.
func (c Config) Validate() []config.Problem {
	var ps []config.Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, config.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	sources := 0
	for _, s := range []string{c.IDPMetadataURL, c.IDPMetadataFile, c.IDPMetadataData} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources == 0:
		add("idpMetadataURL", "one of idpMetadataURL, idpMetadataFile or idpMetadataData is required")
	case sources > 1:
		add("idpMetadataURL", "set only one of idpMetadataURL, idpMetadataFile and idpMetadataData")
	}
	if c.IDPMetadataURL != "" {
		if msg := checkURL(c.IDPMetadataURL); msg != "" {
			add("idpMetadataURL", "%s", msg)
		}
	}
	if c.SSOURL != "" {
		if msg := checkURL(c.SSOURL); msg != "" {
			add("ssoURL", "%s", msg)
		}
	}
	if strings.ContainsAny(c.EntityID, " \t\r\n") || len(c.EntityID) > 1024 {
		// saml-metadata-2.0-os §2.3.2: a URI of at most 1024 characters.
		add("entityID", "must be a URI of at most 1024 characters, without spaces")
	}
	if (c.SPCertFile == "") != (c.SPKeyFile == "") {
		add("spCertFile", "spCertFile and spKeyFile go together: set both or neither")
	}
	switch c.Binding {
	case "", BindingRedirect, BindingPost:
	default:
		add("binding", "must be %q or %q, not %q", BindingRedirect, BindingPost, c.Binding)
	}
	switch c.RequireSigned {
	case "", SignedResponse, SignedAssertion, SignedEither:
	default:
		add("requireSigned", "must be %q, %q or %q, not %q", SignedResponse, SignedAssertion, SignedEither, c.RequireSigned)
	}
	if c.NameIDFormat != "" {
		if _, err := nameIDFormatURI(c.NameIDFormat); err != nil {
			add("nameIDFormat", "%v", err)
		}
	}
	for _, l := range []struct {
		path  string
		names []string
	}{
		{"usernameAttr", c.UsernameAttr}, {"emailAttr", c.EmailAttr}, {"nameAttr", c.NameAttr},
		{"groupsAttr", c.GroupsAttr}, {"allowedGroups", c.AllowedGroups},
	} {
		for i, n := range l.names {
			if strings.TrimSpace(n) == "" {
				add(fmt.Sprintf("%s[%d]", l.path, i), "must not be empty")
			}
		}
	}
	if d := c.ClockSkew.Std(); d < 0 || d > MaxClockSkew {
		add("clockSkew", "must be between 0s and 3m")
	}
	return ps
}

// nameIDFormatURI resolves a configured NameID format to its URI.
func nameIDFormatURI(f string) (string, error) {
	if f == "" {
		f = DefaultNameIDFormat
	}
	if u, ok := nameIDFormats[f]; ok {
		return u, nil
	}
	if f == "transient" || f == transientNameIDFormat {
		return "", fmt.Errorf("a transient NameID changes at every login and cannot identify a person: use persistent")
	}
	if u, err := url.Parse(f); err != nil || u.Scheme == "" || strings.ContainsAny(f, " \t\r\n") {
		return "", fmt.Errorf("must be persistent, emailAddress, unspecified or a URI, not %q", f)
	}
	return f, nil
}

// checkURL returns a problem with an IdP URL, or "": absolute, https, or
// http on a loopback host.
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "must be an absolute https URL"
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "must use https (http only for a loopback host)"
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
