package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// dumpStore serialises every record reachable through the store's API,
// starting from what the test knows (users, and the hashes of the secrets
// it holds).
func dumpStore(t *testing.T, h *harness, secrets map[string]string) string {
	t.Helper()
	ctx := context.Background()
	var out strings.Builder
	add := func(what string, v any, err error) {
		if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrAlreadyUsed) {
			t.Fatalf("%s: %v", what, err)
		}
		if errors.Is(err, storage.ErrNotFound) {
			return
		}
		j, jerr := json.Marshal(v)
		if jerr != nil {
			t.Fatal(jerr)
		}
		// %s as well: JSON shows []byte as base64, %s as the bytes.
		fmt.Fprintf(&out, "%s: %s\n%s\n", what, j, fmt.Sprintf("%s", v))
	}
	users, err := h.store.ListUsers(ctx)
	add("users", users, err)
	clients, err := h.store.ListClients(ctx)
	add("clients", clients, err)
	conns, err := h.store.ListConnectors(ctx)
	add("connectors", conns, err)
	audit, err := h.store.ListAudit(ctx, time.Time{}, 10000)
	add("audit", audit, err)
	ks, err := h.store.KeySet(ctx)
	add("keys", ks, err)
	for _, u := range users {
		ids, err := h.store.IdentitiesByUser(ctx, u.ID)
		add("identities", ids, err)
		consents, err := h.store.ConsentsByUser(ctx, u.ID)
		add("consents", consents, err)
		grants, err := h.store.GrantsByUser(ctx, u.ID)
		add("grants", grants, err)
		sessions, err := h.store.SessionsByUser(ctx, u.ID)
		add("sessions", sessions, err)
	}
	for name, s := range secrets {
		hash := storage.HashSecret(s)
		ar, err := h.store.AuthRequest(ctx, hash)
		add("auth request by "+name, ar, err)
		g, err := h.store.GrantByRefreshToken(ctx, hash)
		add("grant by "+name, g, err)
		sess, err := h.store.Session(ctx, hash)
		add("session by "+name, sess, err)
		if strings.HasPrefix(name, "code") {
			// The code was redeemed: this reads it without changing it.
			ac, err := h.store.RedeemAuthCode(ctx, hash)
			add("code by "+name, ac, err)
		}
	}
	return out.String()
}

// After a full flow, neither the store nor the log holds any bearer
// secret in clear: only their hashes.
func TestNoSecretsAtRest(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	h := newHarness(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	h.addUser("alice", testPassword, "admins")
	c := h.addRP("app", false)
	b := h.browser()
	secrets := map[string]string{"password": testPassword, "client secret": c.secret}

	params, verifier := authParams(c, url.Values{"state": {"state-" + storage.NewID()}})
	secrets["pkce verifier"] = verifier
	page := h.follow(b, h.authorizeURL(params))
	login := parseForm(t, page.Body)
	secrets["request id"], secrets["login csrf"] = login.Fields.Get("req"), login.Fields.Get("csrf")
	consent := h.submitLogin(b, page, "alice", testPassword)
	cf := parseForm(t, consent.Body)
	secrets["consent step"], secrets["consent csrf"] = cf.Fields.Get("step"), cf.Fields.Get("csrf")
	q := h.authzResponse(h.submitConsent(b, consent, "allow"), c.redirect)
	secrets["code"] = q.Get("code")
	secrets["flow cookie"] = h.cookie(b, flowCookieName)
	secrets["session cookie"] = h.cookie(b, sessionCookieName)

	tok := h.mustTokens(h.exchange(c, q.Get("code"), verifier))
	secrets["refresh token 1"] = tok.str("refresh_token")
	secrets["access token 1"] = tok.str("access_token")
	secrets["id token 1"] = tok.str("id_token")
	r2 := h.mustTokens(h.refresh(c, tok.str("refresh_token"), ""))
	secrets["refresh token 2"] = r2.str("refresh_token")
	// A retry within the grace window: the successor is kept sealed.
	h.mustTokens(h.refresh(c, tok.str("refresh_token"), ""))
	r3 := h.mustTokens(h.refresh(c, r2.str("refresh_token"), ""))
	secrets["refresh token 3"] = r3.str("refresh_token")
	secrets["access token 3"] = r3.str("access_token")
	// A silent second code from the SSO session.
	code2, v2 := h.login(b, c, "alice", nil)
	secrets["code 2"] = code2
	h.mustTokens(h.exchange(c, code2, v2))

	for name, s := range secrets {
		if s == "" {
			t.Fatalf("the flow produced no %s", name)
		}
	}
	dump := dumpStore(t, h, secrets)
	// The dump must reach the records, or finding nothing proves nothing.
	for _, name := range []string{"code", "code 2", "refresh token 3", "session cookie"} {
		if !strings.Contains(dump, storage.HashSecret(secrets[name])) {
			t.Errorf("the store dump does not reach the record of the %s", name)
		}
	}
	logText := logs.String()
	if !strings.Contains(logText, `"msg":"login"`) {
		t.Error("the log captured nothing")
	}
	for name, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("the store holds the %s in clear", name)
		}
		if strings.Contains(logText, s) {
			t.Errorf("the log holds the %s", name)
		}
	}
}
