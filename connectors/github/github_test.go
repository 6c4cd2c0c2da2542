package github_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/github"
)

const callbackURL = "https://foyer.example/callback/github"

// t0 is the connectors' clock in these tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// waits records the waits a connector asked for instead of sleeping.
type waits struct {
	mu  sync.Mutex
	got []time.Duration
}

func (w *waits) wait(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, d)
	return nil
}

func (w *waits) list() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// open opens a connector on the fake, with its clock at t0 and waits
// recorded.
func open(t *testing.T, f *fakeGitHub, cfg github.Config) (*github.Connector, *waits) {
	t.Helper()
	cfg.ClientID, cfg.ClientSecret = f.clientID, "fake-client-secret-0123456789"
	c, err := github.Open(cfg, connectors.Env{
		ID: "github", CallbackURL: callbackURL, HTTPClient: f.client(),
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)).With("connector_id", "github"),
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &waits{}
	github.SetClock(c, func() time.Time { return t0 }, w.wait)
	return c, w
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// authorize follows a LoginURL through the fake's authorize page and
// returns where it sends the browser back.
func authorize(t *testing.T, f *fakeGitHub, target string) *url.URL {
	t.Helper()
	resp, err := f.browser().Get(target)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302", resp.StatusCode)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// login runs LoginURL, the fake's authorize page and HandleCallback.
func login(t *testing.T, f *fakeGitHub, c *github.Connector, s connectors.Scopes) (connectors.Identity, error) {
	t.Helper()
	state := newSecret("state-")
	target, connState, err := c.LoginURL(t.Context(), s, callbackURL, state)
	if err != nil {
		t.Fatalf("LoginURL: %v", err)
	}
	back := authorize(t, f, target)
	if got := back.Query().Get("state"); got != state {
		t.Fatalf("state back = %q, want %q", got, state)
	}
	return c.HandleCallback(t.Context(), s, connState, httptest.NewRequest(http.MethodGet, back.String(), nil))
}

func mustLogin(t *testing.T, f *fakeGitHub, c *github.Connector, s connectors.Scopes) connectors.Identity {
	t.Helper()
	id, err := login(t, f, c, s)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return id
}

func octocat() fakeUser {
	return fakeUser{
		ID: 583231, Login: "octocat", Name: "The Octocat", Email: "octo@public.example",
		Emails: []fakeEmail{
			{Address: "octo@personal.example", Verified: true},
			{Address: "octocat@acme.example", Primary: true, Verified: true},
			{Address: "octo@dev.acme.example", Verified: true},
		},
		Orgs: []string{"acme", "widgets"},
		Teams: []fakeTeam{
			{Org: "acme", Slug: "core-devs", Name: "Core Devs"},
			{Org: "acme", Slug: "ops", Name: "Ops"},
			{Org: "widgets", Slug: "design", Name: "Design"},
		},
	}
}

var withGroups = connectors.Scopes{Groups: true, OfflineAccess: true}

func TestLoginURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		cfg          github.Config
		scopes       connectors.Scopes
		wantRedirect string
		wantScope    string
	}{
		{name: "no groups needed", wantRedirect: callbackURL, wantScope: "read:user user:email"},
		{name: "groups asked but not loaded", scopes: withGroups, wantRedirect: callbackURL, wantScope: "read:user user:email"},
		{name: "orgs restriction", cfg: github.Config{Orgs: []github.Org{{Name: "acme"}}},
			wantRedirect: callbackURL, wantScope: "read:user user:email read:org"},
		{name: "all groups", cfg: github.Config{LoadAllGroups: true}, scopes: withGroups,
			wantRedirect: callbackURL, wantScope: "read:user user:email read:org"},
		{name: "all groups, not asked", cfg: github.Config{LoadAllGroups: true},
			wantRedirect: callbackURL, wantScope: "read:user user:email"},
		{name: "configured redirect URI", cfg: github.Config{RedirectURI: "https://sso.example/callback/gh"},
			wantRedirect: "https://sso.example/callback/gh", wantScope: "read:user user:email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := open(t, newFakeGitHub(t), tt.cfg)
			target, connState, err := c.LoginURL(t.Context(), tt.scopes, callbackURL, "the-state")
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(target)
			if err != nil {
				t.Fatal(err)
			}
			if u.Scheme != "https" || u.Host != "github.com" || u.Path != "/login/oauth/authorize" {
				t.Errorf("authorize URL %s://%s%s", u.Scheme, u.Host, u.Path)
			}
			q := u.Query()
			want := map[string]string{
				"client_id": fakeClientID, "redirect_uri": tt.wantRedirect, "scope": tt.wantScope,
				"state": "the-state", "response_type": "code", "code_challenge_method": "S256",
			}
			for k, v := range want {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			if len(q.Get("code_challenge")) != 43 {
				t.Errorf("code_challenge %q is not a S256 challenge", q.Get("code_challenge"))
			}
			if q.Has("client_secret") || strings.Contains(target, "fake-client-secret") {
				t.Error("the client secret is in the authorize URL")
			}
			if len(connState) == 0 {
				t.Error("no connector state for the callback")
			}
		})
	}
}

// TestLogin runs the callback → identity path end to end.
func TestLogin(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.addUser(octocat())
	c, _ := open(t, f, github.Config{Orgs: []github.Org{{Name: "acme"}}})
	id := mustLogin(t, f, c, withGroups)
	want := connectors.Identity{
		Subject: "583231", Username: "octocat", Name: "The Octocat",
		Email: "octocat@acme.example", EmailVerified: true,
		Groups: []string{"acme", "acme:core-devs", "acme:ops"},
	}
	if id.Subject != want.Subject || id.Username != want.Username || id.Name != want.Name ||
		id.Email != want.Email || id.EmailVerified != want.EmailVerified || !slices.Equal(id.Groups, want.Groups) {
		t.Errorf("identity = %+v\nwant       %+v", id.Claims(), want.Claims())
	}
	if id.LocalUserID != "" {
		t.Errorf("LocalUserID = %q, want none", id.LocalUserID)
	}
	if !strings.Contains(string(id.Data), "gho_") {
		t.Errorf("Data does not keep the access token for refresh")
	}
	f.set(func(f *fakeGitHub) {
		if f.jsonToken != 1 {
			t.Errorf("token requests asking for JSON = %d, want 1", f.jsonToken)
		}
		for _, p := range f.perPage {
			if p != "100" {
				t.Errorf("per_page = %q, want 100", p)
			}
		}
	})
}

func TestGroups(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    github.Config
		scopes connectors.Scopes
		want   []string
	}{
		{name: "team slugs by default", cfg: github.Config{Orgs: []github.Org{{Name: "acme"}}}, scopes: withGroups,
			want: []string{"acme", "acme:core-devs", "acme:ops"}},
		{name: "team names", cfg: github.Config{Orgs: []github.Org{{Name: "acme"}}, TeamNameField: "name"}, scopes: withGroups,
			want: []string{"acme", "acme:Core Devs", "acme:Ops"}},
		{name: "both", cfg: github.Config{Orgs: []github.Org{{Name: "acme", Teams: []string{"ops"}}}, TeamNameField: "both"}, scopes: withGroups,
			want: []string{"acme", "acme:Ops", "acme:ops"}},
		{name: "listed teams only", cfg: github.Config{Orgs: []github.Org{{Name: "ACME", Teams: []string{"Core Devs", "nobody"}}}}, scopes: withGroups,
			want: []string{"acme", "acme:core-devs"}},
		{name: "several orgs", cfg: github.Config{Orgs: []github.Org{{Name: "widgets"}, {Name: "acme", Teams: []string{"ops"}}, {Name: "absent"}}},
			want: []string{"acme", "acme:ops", "widgets", "widgets:design"}},
		{name: "all groups", cfg: github.Config{LoadAllGroups: true}, scopes: withGroups,
			want: []string{"acme", "acme:core-devs", "acme:ops", "widgets", "widgets:design"}},
		{name: "all groups with a restriction", cfg: github.Config{LoadAllGroups: true, Orgs: []github.Org{{Name: "acme", Teams: []string{"ops"}}}},
			scopes: withGroups, want: []string{"acme", "acme:core-devs", "acme:ops", "widgets", "widgets:design"}},
		{name: "all groups, not asked", cfg: github.Config{LoadAllGroups: true}},
		{name: "no orgs, no groups", scopes: withGroups},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			f.addUser(octocat())
			c, _ := open(t, f, tt.cfg)
			id := mustLogin(t, f, c, tt.scopes)
			if !slices.Equal(id.Groups, tt.want) {
				t.Errorf("groups = %q, want %q", id.Groups, tt.want)
			}
			if tt.want == nil && (f.hitCount("/user/orgs") > 0 || f.hitCount("/user/teams") > 0) {
				t.Error("organisations read though no group is needed")
			}
		})
	}
}

func TestNotInRequiredOrg(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		orgs []github.Org
	}{
		{name: "not a member", orgs: []github.Org{{Name: "initech"}}},
		{name: "member, not in the team", orgs: []github.Org{{Name: "acme", Teams: []string{"security"}}}},
		{name: "team of another org", orgs: []github.Org{{Name: "widgets", Teams: []string{"core-devs"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			f.addUser(octocat())
			c, _ := open(t, f, github.Config{Orgs: tt.orgs})
			_, err := login(t, f, c, withGroups)
			var refusal *connectors.Refusal
			if !errors.As(err, &refusal) {
				t.Fatalf("login error = %v, want a *connectors.Refusal", err)
			}
			if refusal.Reason == "" || !strings.Contains(refusal.Detail, "octocat") {
				t.Errorf("refusal %+v lacks a reason for the person or a detail for the log", refusal)
			}
		})
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		emails       []fakeEmail
		domain       string
		fault        *fault
		want         string
		wantVerified bool
	}{
		{name: "primary verified", emails: octocat().Emails, want: "octocat@acme.example", wantVerified: true},
		{name: "unverified primary", emails: []fakeEmail{
			{Address: "new@example.org", Primary: true},
			{Address: "old@example.net", Verified: true},
		}, want: "new@example.org"},
		{name: "preferred domain", emails: octocat().Emails, domain: "personal.example", want: "octo@personal.example", wantVerified: true},
		{name: "preferred subdomains", emails: octocat().Emails, domain: "*.acme.example", want: "octo@dev.acme.example", wantVerified: true},
		{name: "preferred domain unverified", emails: []fakeEmail{
			{Address: "me@corp.example"},
			{Address: "me@home.example", Primary: true, Verified: true},
		}, domain: "corp.example", want: "me@home.example", wantVerified: true},
		{name: "no primary", emails: []fakeEmail{{Address: "x@example.org", Verified: true}}},
		{name: "emails API not permitted", emails: octocat().Emails, fault: &fault{status: http.StatusNotFound, body: `{"message":"Not Found"}`},
			want: "octo@public.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			u := octocat()
			u.Emails = tt.emails
			f.addUser(u)
			if tt.fault != nil {
				f.fail("/user/emails", *tt.fault)
			}
			c, _ := open(t, f, github.Config{PreferredEmailDomain: tt.domain})
			id := mustLogin(t, f, c, withGroups)
			if id.Email != tt.want || id.EmailVerified != tt.wantVerified {
				t.Errorf("email %q verified %t, want %q verified %t", id.Email, id.EmailVerified, tt.want, tt.wantVerified)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	u := octocat()
	u.Orgs, u.Teams, u.Emails = nil, nil, nil
	var want []string
	for i := range 5 {
		org := "org" + string(rune('a'+i))
		u.Orgs = append(u.Orgs, org)
		want = append(want, org)
	}
	for i := range 7 {
		slug := "team-" + string(rune('a'+i))
		u.Teams = append(u.Teams, fakeTeam{Org: "orgc", Slug: slug, Name: strings.ToUpper(slug)})
		want = append(want, "orgc:"+slug)
	}
	for i := range 3 {
		u.Emails = append(u.Emails, fakeEmail{Address: "e" + string(rune('a'+i)) + "@example.org", Verified: true, Primary: i == 2})
	}
	f.addUser(u)
	f.set(func(f *fakeGitHub) { f.maxPerPage = 2 })
	c, _ := open(t, f, github.Config{LoadAllGroups: true, Orgs: []github.Org{{Name: "orgc", Teams: []string{"team-g"}}}})
	id := mustLogin(t, f, c, withGroups)
	slices.Sort(want)
	if !slices.Equal(id.Groups, want) {
		t.Errorf("groups = %q\nwant     %q", id.Groups, want)
	}
	if id.Email != "ec@example.org" || !id.EmailVerified {
		t.Errorf("email %q verified %t: the primary is on the last page", id.Email, id.EmailVerified)
	}
	for path, pages := range map[string]int{"/user/teams": 4, "/user/orgs": 3, "/user/emails": 2} {
		if got := f.hitCount(path); got != pages {
			t.Errorf("%s requested %d times, want %d pages", path, got, pages)
		}
	}
}

func TestCallbackErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(f *fakeGitHub)
		callback func(back *url.URL)
		want     string // UpstreamError code
	}{
		{name: "access denied", setup: func(f *fakeGitHub) { f.deny = "access_denied" }, want: "access_denied"},
		{name: "redirect URI mismatch", setup: func(f *fakeGitHub) { f.callback = "https://other.example/cb" }, want: "redirect_uri_mismatch"},
		{name: "bad code", callback: func(back *url.URL) {
			q := back.Query()
			q.Set("code", "not-a-code")
			back.RawQuery = q.Encode()
		}, want: "bad_verification_code"},
		{name: "wrong client secret", setup: func(f *fakeGitHub) { f.clientSecret = "rotated" }, want: "incorrect_client_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			f.addUser(octocat())
			if tt.setup != nil {
				f.set(tt.setup)
			}
			c, _ := open(t, f, github.Config{})
			target, connState, err := c.LoginURL(t.Context(), withGroups, callbackURL, "st")
			if err != nil {
				t.Fatal(err)
			}
			back := authorize(t, f, target)
			if tt.callback != nil {
				tt.callback(back)
			}
			_, err = c.HandleCallback(t.Context(), withGroups, connState, httptest.NewRequest(http.MethodGet, back.String(), nil))
			var up *connectors.UpstreamError
			if !errors.As(err, &up) || up.Code != tt.want {
				t.Fatalf("HandleCallback error = %v, want an UpstreamError %s", err, tt.want)
			}
		})
	}
	t.Run("no code", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t)
		c, _ := open(t, f, github.Config{})
		_, connState, _ := c.LoginURL(t.Context(), withGroups, callbackURL, "st")
		_, err := c.HandleCallback(t.Context(), withGroups, connState, httptest.NewRequest(http.MethodGet, callbackURL+"?state=st", nil))
		if err == nil {
			t.Fatal("a callback without a code succeeded")
		}
	})
	t.Run("PKCE verifier of another login", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t)
		f.addUser(octocat())
		c, _ := open(t, f, github.Config{})
		target, _, _ := c.LoginURL(t.Context(), withGroups, callbackURL, "st")
		_, otherState, _ := c.LoginURL(t.Context(), withGroups, callbackURL, "st")
		back := authorize(t, f, target)
		_, err := c.HandleCallback(t.Context(), withGroups, otherState, httptest.NewRequest(http.MethodGet, back.String(), nil))
		var up *connectors.UpstreamError
		if !errors.As(err, &up) {
			t.Fatalf("HandleCallback error = %v, want the code refused", err)
		}
	})
}
