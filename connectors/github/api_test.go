package github_test

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/github"
)

// TestPaginationLimits: a next link that leaves the API, or an oversized
// page, fails the login instead of sending the token elsewhere or reading
// without end.
func TestPaginationLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault fault
	}{
		{name: "next link to another host", fault: fault{status: http.StatusOK, body: "[]",
			header: http.Header{"Link": {`<https://evil.example/user/teams?page=2>; rel="next"`}}}},
		{name: "next link over http", fault: fault{status: http.StatusOK, body: "[]",
			header: http.Header{"Link": {`<http://api.github.com/user/teams?page=2>; rel="next"`}}}},
		{name: "oversized page", fault: fault{status: http.StatusOK, body: `["` + strings.Repeat("x", 1<<20) + `"]`}},
		{name: "not JSON", fault: fault{status: http.StatusOK, body: "<html>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			f.addUser(octocat())
			f.fail("/user/teams", tt.fault)
			c, _ := open(t, f, github.Config{LoadAllGroups: true})
			if _, err := login(t, f, c, withGroups); err == nil {
				t.Fatal("login succeeded")
			}
			if got := f.hitCount("/user/teams"); got != 1 {
				t.Errorf("/user/teams requested %d times, want 1", got)
			}
		})
	}
}

func TestAPIServerError(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/user", "/user/emails", "/user/orgs", "/user/teams"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			f.addUser(octocat())
			f.fail(path, fault{status: http.StatusBadGateway, body: `{"message":"Server Error"}`})
			c, w := open(t, f, github.Config{Orgs: []github.Org{{Name: "acme"}}})
			_, err := login(t, f, c, withGroups)
			var refusal *connectors.Refusal
			var up *connectors.UpstreamError
			switch {
			case err == nil:
				t.Fatal("login succeeded")
			case errors.As(err, &refusal), errors.As(err, &up), errors.Is(err, github.ErrRateLimited), errors.Is(err, connectors.ErrIdentityGone):
				t.Fatalf("error %v: a broken upstream must be a plain error", err)
			}
			if len(w.list()) != 0 {
				t.Errorf("waited %v on a 5xx", w.list())
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	limited := func(status int, h ...string) fault {
		hdr := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(h); i += 2 {
			hdr.Set(h[i], h[i+1])
		}
		return fault{status: status, header: hdr, body: `{"message":"API rate limit exceeded for user ID 583231."}`}
	}
	reset := func(d time.Duration) string { return strconv.FormatInt(t0.Add(d).Unix(), 10) }
	tests := []struct {
		name      string
		faults    []fault
		wantErr   bool
		wantWaits []time.Duration
	}{
		{name: "429 with Retry-After, once", faults: []fault{limited(429, "Retry-After", "1")}, wantWaits: []time.Duration{time.Second}},
		{name: "secondary limit 403 with Retry-After", faults: []fault{limited(403, "Retry-After", "2")}, wantWaits: []time.Duration{2 * time.Second}},
		{name: "Retry-After as a date", faults: []fault{limited(429, "Retry-After", t0.Add(time.Second).Format(http.TimeFormat))},
			wantWaits: []time.Duration{time.Second}},
		{name: "primary limit resetting soon", faults: []fault{limited(403, "X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", reset(time.Second))},
			wantWaits: []time.Duration{time.Second}},
		{name: "primary limit resetting in an hour", faults: []fault{limited(403, "X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", reset(time.Hour))},
			wantErr: true},
		{name: "429 without Retry-After", faults: []fault{limited(429, "X-Ratelimit-Remaining", "0")}, wantErr: true},
		{name: "Retry-After too long", faults: []fault{limited(429, "Retry-After", "60")}, wantErr: true},
		{name: "still limited after the retry", faults: []fault{limited(429, "Retry-After", "1"), limited(429, "Retry-After", "1")},
			wantErr: true, wantWaits: []time.Duration{time.Second}},
		{name: "one wait per login", faults: []fault{limited(429, "Retry-After", "1"), {status: http.StatusOK, body: "[]",
			header: http.Header{"Link": {`<https://api.github.com/user/teams?page=2&per_page=100>; rel="next"`}}}, limited(429, "Retry-After", "1")},
			wantErr: true, wantWaits: []time.Duration{time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			f.addUser(octocat())
			f.fail("/user/teams", tt.faults...)
			c, w := open(t, f, github.Config{Orgs: []github.Org{{Name: "acme"}}})
			id, err := login(t, f, c, withGroups)
			if tt.wantErr {
				if !errors.Is(err, github.ErrRateLimited) {
					t.Fatalf("login error = %v, want ErrRateLimited", err)
				}
			} else if err != nil || !slices.Contains(id.Groups, "acme:core-devs") {
				t.Fatalf("login = %v, %v; want success after the wait", id.Groups, err)
			}
			if !slices.Equal(w.list(), tt.wantWaits) {
				t.Errorf("waits = %v, want %v", w.list(), tt.wantWaits)
			}
		})
	}
	t.Run("403 without rate limit headers", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t)
		f.addUser(octocat())
		f.fail("/user", fault{status: 403, body: `{"message":"Resource protected by organization SAML enforcement."}`})
		c, w := open(t, f, github.Config{})
		_, err := login(t, f, c, withGroups)
		if err == nil || errors.Is(err, github.ErrRateLimited) || len(w.list()) != 0 {
			t.Errorf("login error %v after waits %v; want a plain error and no wait", err, w.list())
		}
	})
}
