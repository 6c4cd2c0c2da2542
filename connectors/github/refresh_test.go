package github_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/github"
)

func TestRefresh(t *testing.T) {
	t.Parallel()
	acme := []github.Org{{Name: "acme"}}
	tests := []struct {
		name        string
		orgs        []github.Org
		change      func(f *fakeGitHub)
		data        []byte // replaces the identity's Data when set
		wantGroups  []string
		wantGone    bool
		wantRefusal bool
		wantErr     bool // a plain error: GitHub is broken, the grant is not
	}{
		{name: "unchanged", orgs: acme, wantGroups: []string{"acme", "acme:core-devs", "acme:ops"}},
		{name: "joined a team", orgs: acme, change: func(f *fakeGitHub) {
			f.update("octocat", func(u *fakeUser) {
				u.Teams = append(u.Teams, fakeTeam{Org: "acme", Slug: "security", Name: "Security"})
			})
		}, wantGroups: []string{"acme", "acme:core-devs", "acme:ops", "acme:security"}},
		{name: "left the org", orgs: acme, change: func(f *fakeGitHub) {
			f.update("octocat", func(u *fakeUser) {
				u.Orgs = []string{"widgets"}
				u.Teams = slices.DeleteFunc(u.Teams, func(t fakeTeam) bool { return t.Org == "acme" })
			})
		}, wantRefusal: true},
		{name: "left the listed team", orgs: []github.Org{{Name: "acme", Teams: []string{"ops"}}}, change: func(f *fakeGitHub) {
			f.update("octocat", func(u *fakeUser) {
				u.Teams = slices.DeleteFunc(u.Teams, func(t fakeTeam) bool { return t.Slug == "ops" })
			})
		}, wantRefusal: true},
		{name: "authorization revoked", orgs: acme, change: func(f *fakeGitHub) { f.revoke("octocat") }, wantGone: true},
		{name: "no stored token", data: []byte{}, wantGone: true},
		{name: "unreadable stored token", data: []byte("{"), wantGone: true},
		{name: "GitHub down", orgs: acme, change: func(f *fakeGitHub) {
			f.fail("/user", fault{status: http.StatusServiceUnavailable, body: `{"message":"Service Unavailable"}`})
		}, wantErr: true},
		{name: "rate limited", orgs: acme, change: func(f *fakeGitHub) {
			f.fail("/user/orgs", fault{status: http.StatusForbidden, header: http.Header{"X-Ratelimit-Remaining": {"0"}}})
		}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			f.addUser(octocat())
			c, _ := open(t, f, github.Config{Orgs: tt.orgs})
			id := mustLogin(t, f, c, withGroups)
			if tt.change != nil {
				tt.change(f)
			}
			if tt.data != nil {
				id.Data = tt.data
			}
			fresh, err := c.Refresh(t.Context(), withGroups, id)
			var refusal *connectors.Refusal
			gone, refused := errors.Is(err, connectors.ErrIdentityGone), errors.As(err, &refusal)
			switch {
			case tt.wantGone && !gone, tt.wantRefusal && !refused:
				t.Fatalf("Refresh error = %v; want gone %t, refused %t", err, tt.wantGone, tt.wantRefusal)
			case tt.wantErr && (err == nil || gone || refused):
				t.Fatalf("Refresh error = %v; want a plain error that keeps the grant", err)
			case !tt.wantGone && !tt.wantRefusal && !tt.wantErr && err != nil:
				t.Fatalf("Refresh: %v", err)
			}
			if err != nil {
				if strings.Contains(err.Error(), "gho_") {
					t.Errorf("error %q shows the token", err)
				}
				return
			}
			if fresh.Subject != id.Subject || !slices.Equal(fresh.Groups, tt.wantGroups) {
				t.Errorf("refreshed subject %q groups %q; want %q %q", fresh.Subject, fresh.Groups, id.Subject, tt.wantGroups)
			}
			if len(fresh.Data) == 0 {
				t.Error("refreshed identity lost its Data")
			}
		})
	}
}

// TestRefreshWithoutReadOrg: an organisation restriction added after the
// login cannot be checked with the old token, which lacks read:org; the
// grant ends.
func TestRefreshWithoutReadOrg(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.addUser(octocat())
	before, _ := open(t, f, github.Config{})
	id := mustLogin(t, f, before, withGroups)
	after, _ := open(t, f, github.Config{Orgs: []github.Org{{Name: "acme"}}})
	_, err := after.Refresh(t.Context(), withGroups, id)
	var refusal *connectors.Refusal
	if !errors.As(err, &refusal) {
		t.Fatalf("Refresh error = %v, want a refusal", err)
	}
}

// TestRefreshExpiringToken: a GitHub App's user token expires; Refresh
// uses the stored refresh token, keeps the new pair, and a refresh token
// GitHub has already rotated ends the grant.
func TestRefreshExpiringToken(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.addUser(octocat())
	f.set(func(f *fakeGitHub) { f.expiring = true })
	c, _ := open(t, f, github.Config{Orgs: []github.Org{{Name: "acme"}}})
	id := mustLogin(t, f, c, withGroups)
	var before map[string]any
	if err := json.Unmarshal(id.Data, &before); err != nil {
		t.Fatal(err)
	}
	if before["refreshToken"] == nil || before["expiry"] == nil {
		t.Fatalf("Data %v keeps no refresh token or expiry", mapKeys(before))
	}
	// Expire the stored access token (x/oauth2 reads the wall clock).
	before["expiry"] = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	expired, err := json.Marshal(before)
	if err != nil {
		t.Fatal(err)
	}
	id.Data = expired
	fresh, err := c.Refresh(t.Context(), withGroups, id)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	var after map[string]any
	if err := json.Unmarshal(fresh.Data, &after); err != nil {
		t.Fatal(err)
	}
	if after["accessToken"] == before["accessToken"] || after["refreshToken"] == before["refreshToken"] {
		t.Error("refreshed Data keeps the old tokens")
	}
	f.set(func(f *fakeGitHub) {
		if !slices.Contains(f.grants, "refresh_token") {
			t.Errorf("grants at the token endpoint %v: no refresh", f.grants)
		}
	})
	if !slices.Equal(fresh.Groups, []string{"acme", "acme:core-devs", "acme:ops"}) {
		t.Errorf("groups = %q", fresh.Groups)
	}
	// The old refresh token was rotated away.
	if _, err := c.Refresh(t.Context(), withGroups, id); !errors.Is(err, connectors.ErrIdentityGone) {
		t.Errorf("Refresh with a used refresh token: %v, want ErrIdentityGone", err)
	}
}

func mapKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
