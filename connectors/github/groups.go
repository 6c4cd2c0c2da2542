package github

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/foyerid/foyer/connectors"
)

// apiOrg is an item of GET /user/orgs.
type apiOrg struct {
	Login string `json:"login"`
}

// apiTeam is an item of GET /user/teams.
type apiTeam struct {
	Name         string `json:"name"`
	Slug         string `json:"slug"`
	Organization apiOrg `json:"organization"`
}

// apiEmail is an item of GET /user/emails.
type apiEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// groups reads the user's organisations and teams, applies the Orgs
// restriction and returns the groups, sorted: "org" for an organisation,
// "org:team" for a team.
func (c *Connector) groups(ctx context.Context, api *apiClient, login string, s connectors.Scopes) ([]string, error) {
	orgs, err := getAll[apiOrg](ctx, api, "/user/orgs")
	if err != nil {
		return nil, err
	}
	teams, err := getAll[apiTeam](ctx, api, "/user/teams")
	if err != nil {
		return nil, err
	}
	// A team's organisation is one the user belongs to, even when
	// /user/orgs leaves it out (an org restricting OAuth app access).
	member := map[string]string{} // lower-cased login → login
	for _, o := range orgs {
		member[strings.ToLower(o.Login)] = o.Login
	}
	for _, t := range teams {
		if l := t.Organization.Login; l != "" {
			member[strings.ToLower(l)] = l
		}
	}

	var out []string
	if len(c.orgs) > 0 {
		allowed := false
		for _, want := range c.orgs {
			org, ok := member[strings.ToLower(want.Name)]
			if !ok {
				continue
			}
			var matched []apiTeam
			for _, t := range teams {
				if strings.EqualFold(t.Organization.Login, org) && (len(want.Teams) == 0 || teamListed(t, want.Teams)) {
					matched = append(matched, t)
				}
			}
			if len(want.Teams) > 0 && len(matched) == 0 {
				continue
			}
			allowed = true
			out = append(out, org)
			for _, t := range matched {
				out = append(out, c.teamGroups(t)...)
			}
		}
		if !allowed {
			return nil, &connectors.Refusal{
				Reason: "Your GitHub account is not in an organisation or team allowed to log in here.",
				Detail: "user " + login + " is in none of the required organisations and teams",
			}
		}
	}
	if c.loadAllGroups && s.Groups {
		for _, org := range member {
			out = append(out, org)
		}
		for _, t := range teams {
			out = append(out, c.teamGroups(t)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// teamListed reports whether a team is among names, by slug or by name.
func teamListed(t apiTeam, names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool {
		return strings.EqualFold(n, t.Slug) || strings.EqualFold(n, t.Name)
	})
}

// teamGroups names a team's groups as teamNameField says.
func (c *Connector) teamGroups(t apiTeam) []string {
	org := t.Organization.Login
	switch c.teamNameField {
	case TeamNameName:
		return []string{org + ":" + t.Name}
	case TeamNameBoth:
		return []string{org + ":" + t.Slug, org + ":" + t.Name}
	default:
		return []string{org + ":" + t.Slug}
	}
}

// email returns the user's email and whether GitHub verified it, from
// GET /user/emails: a verified email in the preferred domain, else the
// primary email with its own verified flag.
func (c *Connector) email(ctx context.Context, api *apiClient, u apiUser) (string, bool, error) {
	emails, err := getAll[apiEmail](ctx, api, "/user/emails")
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusForbidden) {
		// A token without user:email, or a GitHub App without the email
		// permission: only the public profile email is known, and
		// nothing says it is verified.
		c.logger.WarnContext(ctx, "github: emails API not available to this token; using the public profile email, unverified", "status", ae.Status)
		return u.Email, false, nil
	}
	if err != nil {
		return "", false, err
	}
	email, verified := pickEmail(emails, c.emailDomain)
	return email, verified, nil
}

// pickEmail chooses among a user's emails. domain is "", "example.com" or
// "*.example.com", lower-cased.
func pickEmail(emails []apiEmail, domain string) (string, bool) {
	if domain != "" {
		for _, e := range emails {
			if e.Verified && inDomain(e.Email, domain) {
				return e.Email, true
			}
		}
	}
	for _, e := range emails {
		if e.Primary {
			return e.Email, e.Verified
		}
	}
	return "", false
}

// inDomain matches an email's domain: exactly, or any subdomain for
// "*.example.com".
func inDomain(email, domain string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	host := strings.ToLower(email[at+1:])
	if suffix, ok := strings.CutPrefix(domain, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return host == domain
}
