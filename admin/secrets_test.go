package admin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestSecretsNeverShown runs every kind of change with secrets in play and
// then looks for those secrets in every answer, the audit log and the
// process log. The one exception is the client secret, in the one answer
// that made it.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	const password, password2 = "correct horse battery staple", "another long password"

	u := h.createUser(NewUser{Username: "bob", Email: "bob@example.com", Password: password})
	h.want(h.call("PATCH", "/api/v1/users/"+u.ID, UserPatch{Password: ptr(password2)}), 200, nil)
	h.want(h.call("POST", "/api/v1/users", NewUser{Username: "eve", Password: "short"}), 400, nil)
	stored, _ := h.store.User(ctx, u.ID)
	h.link(u.ID, "corp", "bob-at-corp")
	sess, grants := h.addSession(u.ID)
	h.want(h.call("GET", "/api/v1/users/"+u.ID, nil), 200, nil)
	h.want(h.call("GET", "/api/v1/users/"+u.ID+"/identities", nil), 200, nil)
	h.want(h.call("GET", "/api/v1/users/"+u.ID+"/sessions", nil), 200, nil)
	h.want(h.call("GET", "/api/v1/users/"+u.ID+"/grants", nil), 200, nil)

	var created, rotated ClientWithSecret
	h.want(h.call("POST", "/api/v1/clients", NewClient{ID: "app", RedirectURIs: []string{"https://app.example.com/cb"}}), 201, &created)
	createBody := len(h.bodies) - 1
	h.want(h.call("PATCH", "/api/v1/clients/app", ClientPatch{RotateSecret: true}), 200, &rotated)
	rotateBody := len(h.bodies) - 1
	storedClient, _ := h.store.Client(ctx, "app")
	h.want(h.call("GET", "/api/v1/clients", nil), 200, nil)
	h.want(h.call("GET", "/api/v1/clients/app", nil), 200, nil)
	h.want(h.call("DELETE", "/api/v1/sessions/"+sess.ID, nil), 204, nil)
	h.want(h.call("DELETE", "/api/v1/users/"+u.ID, nil), 204, nil)
	h.callAuth("GET", "/api/v1/users", nil, "Bearer wrong-token-presented-by-an-attacker")

	events, err := h.store.ListAudit(ctx, time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audit, _ := json.Marshal(events)
	secrets := map[string]string{
		"password": password, "second password": password2, "password hash": stored.PasswordHash,
		"client secret": created.Secret, "rotated client secret": rotated.Secret, "client secret hash": storedClient.SecretHash,
		"refresh token hash": grants[0].TokenHash, "connector data": "upstream-refresh-token",
		"admin token": testToken, "presented token": "wrong-token-presented-by-an-attacker",
	}
	for name, secret := range secrets {
		if secret == "" {
			t.Fatalf("no %s to look for", name)
		}
		for i, body := range h.bodies {
			allowed := (i == createBody && secret == created.Secret) || (i == rotateBody && secret == rotated.Secret)
			if strings.Contains(body, secret) && !allowed {
				t.Errorf("answer %d shows the %s: %s", i, name, body)
			}
		}
		if strings.Contains(string(audit), secret) {
			t.Errorf("the audit log holds the %s", name)
		}
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
	// And the two answers that carry a secret carry it once.
	if strings.Count(h.bodies[createBody], created.Secret) != 1 || strings.Count(h.bodies[rotateBody], rotated.Secret) != 1 {
		t.Error("a new client secret is not in its answer exactly once")
	}
}
