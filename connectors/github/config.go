package github

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/internal/config"
)

// TypeName is the connector type of the GitHub connector.
const TypeName = "github"

// Values of Config.TeamNameField: what names a team in its group.
const (
	// TeamNameSlug names a team by its slug ("org:core-devs"), the default:
	// slugs are URL-safe and change only when the team is renamed.
	TeamNameSlug = "slug"
	// TeamNameName names a team by its display name ("org:Core Devs").
	TeamNameName = "name"
	// TeamNameBoth gives each team both groups.
	TeamNameBoth = "both"
)

// Config configures the GitHub connector.
type Config struct {
	// ClientID is the OAuth app's (or GitHub App's) client id. Required.
	ClientID string `yaml:"clientID" json:"clientID"`
	// ClientSecret is the app's client secret. Required.
	ClientSecret config.Secret `yaml:"clientSecret" json:"clientSecret"`
	// RedirectURI is the callback URL registered with the app. Default:
	// Foyer's /callback/{id} URL for this connector.
	RedirectURI string `yaml:"redirectURI" json:"redirectURI,omitempty"`
	// HostName is the host (and port, if not 443) of a GitHub Enterprise
	// Server, e.g. "github.example.com". Empty means github.com.
	HostName string `yaml:"hostName" json:"hostName,omitempty"`
	// RootCA is a PEM file of CA certificates to trust, besides the
	// system's, for a GitHub Enterprise Server. Only with HostName.
	RootCA string `yaml:"rootCA" json:"rootCA,omitempty"`
	// Orgs, when set, restricts login to members of these organisations
	// (and, where an org lists teams, to members of one of those teams),
	// and limits groups to them unless LoadAllGroups is set.
	Orgs []Org `yaml:"orgs" json:"orgs,omitempty"`
	// TeamNameField is slug (the default), name or both.
	TeamNameField string `yaml:"teamNameField" json:"teamNameField,omitempty"`
	// LoadAllGroups makes every organisation and team of the user a group,
	// not only those listed in Orgs.
	LoadAllGroups bool `yaml:"loadAllGroups" json:"loadAllGroups,omitempty"`
	// UseLoginAsID makes the login the subject instead of the numeric
	// user id. Logins can be renamed and then reused by someone else: leave
	// it off unless an existing deployment depends on it.
	UseLoginAsID bool `yaml:"useLoginAsID" json:"useLoginAsID,omitempty"`
	// PreferredEmailDomain picks the user's verified email in this domain
	// ("example.com", or "*.example.com" for its subdomains) over the
	// primary one.
	PreferredEmailDomain string `yaml:"preferredEmailDomain" json:"preferredEmailDomain,omitempty"`
}

// Org is an organisation whose members may log in.
type Org struct {
	// Name is the organisation's login, e.g. "acme". Required.
	Name string `yaml:"name" json:"name"`
	// Teams, when set, admits only members of one of these teams, named by
	// slug or display name.
	Teams []string `yaml:"teams" json:"teams,omitempty"`
}

// Type registers the GitHub connector.
var Type = connectors.TypeFor(Open)

// Validate checks the config without I/O and returns every problem found,
// with paths relative to the connector's config block.
func (c *Config) Validate() []config.Problem {
	var ps []config.Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, config.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(c.ClientID) == "" {
		add("clientID", "is required")
	}
	if c.ClientSecret.Reveal() == "" {
		add("clientSecret", "is required")
	}
	if c.RedirectURI != "" {
		u, err := url.Parse(c.RedirectURI)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			add("redirectURI", "must be an absolute http or https URL")
		case u.Fragment != "" || strings.Contains(c.RedirectURI, "#"):
			add("redirectURI", "must not have a fragment")
		}
	}
	if c.HostName != "" && !validHostName(c.HostName) {
		add("hostName", "must be a host name with an optional port, such as github.example.com, without scheme or path")
	}
	if c.RootCA != "" && c.HostName == "" {
		add("rootCA", "is only used with hostName (GitHub Enterprise Server)")
	}
	switch c.TeamNameField {
	case "", TeamNameSlug, TeamNameName, TeamNameBoth:
	default:
		add("teamNameField", "must be slug, name or both, not %q", c.TeamNameField)
	}
	seen := map[string]bool{}
	for i, o := range c.Orgs {
		path := fmt.Sprintf("orgs[%d]", i)
		name := strings.ToLower(o.Name)
		switch {
		case name == "":
			add(path+".name", "is required")
		case strings.ContainsAny(name, " \t/:@"):
			add(path+".name", "%q is not an organisation login", o.Name)
		case seen[name]:
			add(path+".name", "organisation %q is listed twice", o.Name)
		}
		seen[name] = true
		for j, t := range o.Teams {
			if strings.TrimSpace(t) == "" {
				add(fmt.Sprintf("%s.teams[%d]", path, j), "must not be empty")
			}
		}
	}
	if d := c.PreferredEmailDomain; d != "" {
		host := strings.TrimPrefix(d, "*.")
		if host == "" || strings.ContainsAny(host, "@/:* \t") || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") {
			add("preferredEmailDomain", "must be a domain such as example.com or *.example.com")
		}
	}
	return ps
}

// validHostName reports whether h is a bare host with an optional port.
func validHostName(h string) bool {
	if strings.ContainsAny(h, "/?#@ \t") {
		return false
	}
	u, err := url.Parse("https://" + h)
	return err == nil && u.Host == h && u.Hostname() != "" && u.Path == ""
}
