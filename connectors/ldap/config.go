package ldap

import (
	"crypto/x509"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/foyerid/foyer/internal/config"
)

// Defaults, documented in docs/connectors/ldap.md.
const (
	DefaultUsernamePrompt = "Username"
	DefaultConnectTimeout = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	defaultLDAPPort       = "389"
	defaultLDAPSPort      = "636"
)

// maxNestingDepth bounds the walk up nested groups: groups of groups of
// the user's groups, and so on, this many levels above the direct ones.
const maxNestingDepth = 8

// Config configures the LDAP connector. docs/connectors/ldap.md describes
// every key. Validate checks it without I/O; Open applies the defaults.
type Config struct {
	// Hosts are host:port addresses (or host alone, for the default
	// port: 636 with LDAPS, 389 with startTLS or insecureNoTLS), tried in
	// order until one answers.
	Hosts []string `yaml:"hosts" json:"hosts"`
	// StartTLS connects in plain LDAP and upgrades with StartTLS
	// (RFC 4511 §4.14) before anything else is sent. Without it, and
	// without InsecureNoTLS, the connection is LDAPS.
	StartTLS bool `yaml:"startTLS" json:"startTLS,omitempty"`
	// InsecureNoTLS sends everything, passwords included, in clear text.
	InsecureNoTLS bool `yaml:"insecureNoTLS" json:"insecureNoTLS,omitempty"`
	// InsecureSkipVerify accepts any server certificate.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify" json:"insecureSkipVerify,omitempty"`
	// RootCA is a PEM file of the CAs to trust instead of the system's.
	RootCA string `yaml:"rootCA" json:"rootCA,omitempty"`
	// RootCAData is the same PEM, inline.
	RootCAData string `yaml:"rootCAData" json:"rootCAData,omitempty"`
	// BindDN is the service account that searches the directory.
	BindDN string `yaml:"bindDN" json:"bindDN"`
	// BindPassword is its password, normally "${LDAP_BIND_PASSWORD}".
	BindPassword config.Secret `yaml:"bindPassword" json:"bindPassword,omitempty"`
	// BindPasswordFile is a file holding the password instead (read at
	// start-up; a trailing newline is dropped).
	BindPasswordFile string `yaml:"bindPasswordFile" json:"bindPasswordFile,omitempty"`
	// UsernamePrompt labels the login field. Default "Username".
	UsernamePrompt string `yaml:"usernamePrompt" json:"usernamePrompt,omitempty"`
	// UserSearch finds the person's entry from what they typed.
	UserSearch UserSearch `yaml:"userSearch" json:"userSearch"`
	// GroupSearch finds the groups the person is a member of.
	GroupSearch GroupSearch `yaml:"groupSearch" json:"groupSearch,omitzero"`
	// MemberOfAttr reads the groups from this attribute of the user's
	// entry instead (memberOf in Active Directory): each value is a group
	// DN, and the group's name is the value of its first RDN.
	MemberOfAttr string `yaml:"memberOfAttr" json:"memberOfAttr,omitempty"`
	// Timeouts bound each connection attempt and each request.
	Timeouts Timeouts `yaml:"timeouts" json:"timeouts,omitzero"`
}

// UserSearch says how to find a user's entry and what to read from it.
type UserSearch struct {
	// BaseDN is where users are searched. Required.
	BaseDN string `yaml:"baseDN" json:"baseDN"`
	// Filter, when set, is ANDed with the username match, e.g.
	// "(objectClass=person)".
	Filter string `yaml:"filter" json:"filter,omitempty"`
	// Username is the attribute matched against what the person typed:
	// uid, mail, sAMAccountName, userPrincipalName... Required.
	Username string `yaml:"username" json:"username"`
	// Scope is sub (the default: the whole subtree) or one (direct
	// children of BaseDN).
	Scope string `yaml:"scope" json:"scope,omitempty"`
	// IDAttr holds the stable identifier that becomes the subject:
	// entryUUID (OpenLDAP), objectGUID (Active Directory), ipaUniqueID
	// (FreeIPA), or DN. Required.
	IDAttr string `yaml:"idAttr" json:"idAttr"`
	// EmailAttr is the email attribute. Default mail.
	EmailAttr string `yaml:"emailAttr" json:"emailAttr,omitempty"`
	// NameAttr is the display name attribute. Default cn.
	NameAttr string `yaml:"nameAttr" json:"nameAttr,omitempty"`
	// PreferredUsernameAttr is the username shown to applications.
	// Default: Username.
	PreferredUsernameAttr string `yaml:"preferredUsernameAttr" json:"preferredUsernameAttr,omitempty"`
	// EmailVerified says whether this directory's emails count as
	// verified. Default false.
	EmailVerified bool `yaml:"emailVerified" json:"emailVerified,omitempty"`
}

// GroupSearch says how to find a user's groups.
type GroupSearch struct {
	// BaseDN is where groups are searched. Required when group search is
	// configured.
	BaseDN string `yaml:"baseDN" json:"baseDN,omitempty"`
	// Filter, when set, is ANDed with the membership match, e.g.
	// "(objectClass=groupOfNames)".
	Filter string `yaml:"filter" json:"filter,omitempty"`
	// Scope is sub (default) or one.
	Scope string `yaml:"scope" json:"scope,omitempty"`
	// UserMatchers say how a group names its members; a group matches
	// when any matcher does. At least one.
	UserMatchers []UserMatcher `yaml:"userMatchers" json:"userMatchers,omitempty"`
	// NameAttr is the group's name. Default cn.
	NameAttr string `yaml:"nameAttr" json:"nameAttr,omitempty"`
	// Nested also returns the groups that contain the user's groups, up
	// to 8 levels, through the matchers whose UserAttr is DN.
	Nested bool `yaml:"nested" json:"nested,omitempty"`
}

// UserMatcher matches a group to a user: the group's GroupAttr holds the
// user's UserAttr.
type UserMatcher struct {
	// UserAttr is an attribute of the user's entry, or DN for its DN.
	UserAttr string `yaml:"userAttr" json:"userAttr"`
	// GroupAttr is the group's member attribute: member, uniqueMember,
	// memberUid... It may carry a matching rule, as Active Directory's
	// "member:1.2.840.113556.1.4.1941:" (LDAP_MATCHING_RULE_IN_CHAIN).
	GroupAttr string `yaml:"groupAttr" json:"groupAttr"`
}

// Timeouts are durations written as "5s".
type Timeouts struct {
	// Connect bounds a connection attempt to one host: TCP and the TLS
	// handshake (LDAPS or StartTLS). Default 5s.
	Connect config.Duration `yaml:"connect" json:"connect,omitzero"`
	// Request bounds each LDAP request. Default 10s.
	Request config.Duration `yaml:"request" json:"request,omitzero"`
}

// isSet reports whether any group search key is set.
func (g GroupSearch) isSet() bool {
	return g.BaseDN != "" || g.Filter != "" || g.Scope != "" || len(g.UserMatchers) > 0 || g.NameAttr != "" || g.Nested
}

// withDefaults returns c with every unset optional value filled in.
func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.UsernamePrompt, DefaultUsernamePrompt)
	def(&c.UserSearch.Scope, "sub")
	def(&c.UserSearch.EmailAttr, "mail")
	def(&c.UserSearch.NameAttr, "cn")
	def(&c.UserSearch.PreferredUsernameAttr, c.UserSearch.Username)
	def(&c.GroupSearch.Scope, "sub")
	def(&c.GroupSearch.NameAttr, "cn")
	if c.Timeouts.Connect == 0 {
		c.Timeouts.Connect = config.Duration(DefaultConnectTimeout)
	}
	if c.Timeouts.Request == 0 {
		c.Timeouts.Request = config.Duration(DefaultRequestTimeout)
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
	if len(c.Hosts) == 0 {
		add("hosts", "required: at least one host:port")
	}
	for i, h := range c.Hosts {
		if _, _, err := splitHost(h, defaultLDAPSPort); err != nil {
			add(fmt.Sprintf("hosts[%d]", i), "%v", err)
		}
	}
	if c.InsecureNoTLS {
		if c.StartTLS {
			add("insecureNoTLS", "cannot be combined with startTLS")
		}
		for _, k := range []struct {
			key string
			set bool
		}{{"insecureSkipVerify", c.InsecureSkipVerify}, {"rootCA", c.RootCA != ""}, {"rootCAData", c.RootCAData != ""}} {
			if k.set {
				add(k.key, "has no effect with insecureNoTLS")
			}
		}
	}
	if c.RootCA != "" && c.RootCAData != "" {
		add("rootCAData", "set rootCA or rootCAData, not both")
	}
	if c.RootCAData != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.RootCAData)) {
		add("rootCAData", "holds no PEM certificate")
	}
	if c.BindDN == "" {
		add("bindDN", "required: the service account that searches the directory (anonymous search is not supported)")
	} else {
		checkDN(add, "bindDN", c.BindDN)
	}
	switch {
	case c.BindPassword == "" && c.BindPasswordFile == "":
		add("bindPassword", "required (or bindPasswordFile)")
	case c.BindPassword != "" && c.BindPasswordFile != "":
		add("bindPasswordFile", "set bindPassword or bindPasswordFile, not both")
	}
	c.UserSearch.validate(add)
	if c.GroupSearch.isSet() {
		c.GroupSearch.validate(add)
	}
	if c.MemberOfAttr != "" {
		checkAttr(add, "memberOfAttr", c.MemberOfAttr, false)
		if c.GroupSearch.isSet() {
			add("memberOfAttr", "set memberOfAttr or groupSearch, not both")
		}
	}
	if c.Timeouts.Connect < 0 {
		add("timeouts.connect", "must not be negative")
	}
	if c.Timeouts.Request < 0 {
		add("timeouts.request", "must not be negative")
	}
	return ps
}

type addFunc func(path, format string, args ...any)

func (u UserSearch) validate(add addFunc) {
	const p = "userSearch."
	if u.BaseDN == "" {
		add(p+"baseDN", "required")
	} else {
		checkDN(add, p+"baseDN", u.BaseDN)
	}
	checkFilter(add, p+"filter", u.Filter)
	checkScope(add, p+"scope", u.Scope)
	if u.Username == "" {
		add(p+"username", "required: the attribute matched against the login, e.g. uid, mail or sAMAccountName")
	} else {
		checkAttr(add, p+"username", u.Username, false)
	}
	if u.IDAttr == "" {
		add(p+"idAttr", "required: a stable identifier, e.g. entryUUID (OpenLDAP) or objectGUID (Active Directory)")
	} else {
		checkAttr(add, p+"idAttr", u.IDAttr, true)
	}
	checkAttr(add, p+"emailAttr", u.EmailAttr, false)
	checkAttr(add, p+"nameAttr", u.NameAttr, false)
	checkAttr(add, p+"preferredUsernameAttr", u.PreferredUsernameAttr, false)
}

func (g GroupSearch) validate(add addFunc) {
	const p = "groupSearch."
	if g.BaseDN == "" {
		add(p+"baseDN", "required when groupSearch is set")
	} else {
		checkDN(add, p+"baseDN", g.BaseDN)
	}
	checkFilter(add, p+"filter", g.Filter)
	checkScope(add, p+"scope", g.Scope)
	checkAttr(add, p+"nameAttr", g.NameAttr, false)
	if len(g.UserMatchers) == 0 {
		add(p+"userMatchers", "required: at least one {userAttr, groupAttr}, e.g. {userAttr: DN, groupAttr: member}")
	}
	byDN := false
	for i, m := range g.UserMatchers {
		path := fmt.Sprintf("%suserMatchers[%d].", p, i)
		if m.UserAttr == "" {
			add(path+"userAttr", "required: DN or an attribute of the user's entry")
		} else {
			checkAttr(add, path+"userAttr", m.UserAttr, true)
		}
		if m.GroupAttr == "" {
			add(path+"groupAttr", "required: the group's member attribute, e.g. member or memberUid")
		} else if _, err := goldap.CompileFilter("(" + m.GroupAttr + "=x)"); err != nil || strings.ContainsAny(m.GroupAttr, "()=") {
			add(path+"groupAttr", "%q is not an attribute (with an optional :matching-rule:)", m.GroupAttr)
		}
		byDN = byDN || isDN(m.UserAttr)
	}
	if g.Nested && len(g.UserMatchers) > 0 && !byDN {
		add(p+"nested", "needs a user matcher with userAttr DN: groups name their member groups by DN")
	}
}

// attrPattern is an attribute description (RFC 4512 §2.5): a name or an
// OID, with options such as ";binary".
var attrPattern = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)

func checkAttr(add addFunc, path, attr string, dnAllowed bool) {
	if attr == "" || (dnAllowed && isDN(attr)) {
		return
	}
	if isDN(attr) {
		add(path, "DN is only allowed as userSearch.idAttr and as a userMatchers userAttr")
		return
	}
	if !attrPattern.MatchString(attr) {
		add(path, "%q is not an attribute name", attr)
	}
}

func checkDN(add addFunc, path, dn string) {
	if _, err := goldap.ParseDN(dn); err != nil {
		add(path, "%q is not a DN", dn)
	}
}

func checkFilter(add addFunc, path, filter string) {
	if filter == "" {
		return
	}
	if _, err := goldap.CompileFilter(filter); err != nil {
		add(path, "not an LDAP filter (RFC 4515); write it in parentheses, e.g. (objectClass=person)")
	}
}

func checkScope(add addFunc, path, scope string) {
	if scope != "" && scope != "sub" && scope != "one" {
		add(path, "must be sub or one, not %q", scope)
	}
}

// isDN reports whether attr is the pseudo-attribute DN: the entry's name.
func isDN(attr string) bool { return strings.EqualFold(attr, "DN") }

// splitHost parses "host", "host:port" or "[v6]:port" and fills in
// defaultPort.
func splitHost(h, defaultPort string) (host, port string, err error) {
	if h == "" {
		return "", "", fmt.Errorf("empty host")
	}
	if strings.Contains(h, "://") {
		return "", "", fmt.Errorf("%q: write host:port, not a URL (TLS is set with startTLS or insecureNoTLS)", h)
	}
	host, port, err = net.SplitHostPort(h)
	if err != nil {
		// No port: the whole string is the host, brackets and all.
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultPort
		if strings.Contains(host, ":") && net.ParseIP(host) == nil {
			return "", "", fmt.Errorf("%q is not host:port", h)
		}
	}
	if host == "" || strings.ContainsAny(host, "/[]@ ") {
		return "", "", fmt.Errorf("%q is not host:port", h)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("%q: port must be 1 to 65535", h)
	}
	return host, port, nil
}
