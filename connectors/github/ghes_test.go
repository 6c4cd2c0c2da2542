package github_test

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/github"
)

// TestEnterpriseServer logs in against a GitHub Enterprise Server on TLS,
// with its API under /api/v3, trusting it through rootCA only.
func TestEnterpriseServer(t *testing.T) {
	t.Parallel()
	f, ca := newFakeGHES(t)
	f.addUser(octocat())
	orgs := []github.Org{{Name: "acme", Teams: []string{"ops"}}}
	c, _ := open(t, f, github.Config{HostName: f.host(), RootCA: ca, Orgs: orgs})

	target, _, err := c.LoginURL(t.Context(), withGroups, callbackURL, "st")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != f.host() || u.Path != "/login/oauth/authorize" {
		t.Errorf("authorize URL %s://%s%s, want https://%s/login/oauth/authorize", u.Scheme, u.Host, u.Path, f.host())
	}

	id := mustLogin(t, f, c, withGroups)
	if id.Subject != "583231" || id.Email != "octocat@acme.example" || !slices.Equal(id.Groups, []string{"acme", "acme:ops"}) {
		t.Errorf("identity %q %+v", id.Subject, id.Claims())
	}
	if f.hitCount("/user") != 1 || f.hitCount("/user/teams") != 1 {
		t.Errorf("API calls under /api/v3: /user %d, /user/teams %d", f.hitCount("/user"), f.hitCount("/user/teams"))
	}
	if _, err := c.Refresh(t.Context(), withGroups, id); err != nil {
		t.Errorf("Refresh: %v", err)
	}

	t.Run("without rootCA", func(t *testing.T) {
		t.Parallel()
		c, _ := open(t, f, github.Config{HostName: f.host(), Orgs: orgs})
		_, err := login(t, f, c, withGroups)
		var refusal *connectors.Refusal
		var up *connectors.UpstreamError
		if err == nil || errors.As(err, &refusal) || errors.As(err, &up) {
			t.Fatalf("login with an untrusted certificate: %v, want a plain error", err)
		}
	})
	t.Run("hostName github.com", func(t *testing.T) {
		t.Parallel()
		c, _ := open(t, newFakeGitHub(t), github.Config{HostName: "GitHub.com"})
		target, _, err := c.LoginURL(t.Context(), withGroups, callbackURL, "st")
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := url.Parse(target); u.Host != "github.com" {
			t.Errorf("authorize host %q, want github.com", u.Host)
		}
	})
}
