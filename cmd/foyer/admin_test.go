package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/admin"
)

// adminEnv is a running foyer with admin.addr and a token file.
type adminEnv struct {
	base, adminBase, tokenFile, dir string
	proc                            *process
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// adminConfig writes a config with admin.addr, a KEK and an admin token of
// the given text; it returns the config file.
func adminConfig(t *testing.T, dir, addr, adminAddr, token string) string {
	t.Helper()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	writeFile(t, filepath.Join(dir, "foyer.kek"), base64.StdEncoding.EncodeToString(kek))
	writeFile(t, filepath.Join(dir, "admin-token"), token+"\n")
	file := filepath.Join(dir, "foyer.yaml")
	writeFile(t, file, fmt.Sprintf(`issuer: http://%[1]s
http: {addr: "%[1]s"}
admin: {addr: "%[2]s", tokenFile: %[3]s/admin-token}
storage: {type: sqlite, sqlite: {file: %[3]s/foyer.db}}
keys: {kek: {file: %[3]s/foyer.kek}}
logging: {format: json, level: debug}
`, addr, adminAddr, dir))
	return file
}

// cli runs `foyer admin` with the address and token file from the
// environment, as a script would.
func (e *adminEnv) cli(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(foyerBin, append([]string{"admin"}, args...)...)
	cmd.Env = append(os.Environ(), "FOYER_ADMIN_ADDR="+e.adminBase, "FOYER_ADMIN_TOKEN_FILE="+e.tokenFile)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// cliJSON runs a command with --json, wants exit 0 and decodes stdout.
func (e *adminEnv) cliJSON(t *testing.T, stdin string, out any, args ...string) {
	t.Helper()
	stdout, stderr, code := e.cli(t, stdin, append([]string{"--json"}, args...)...)
	if code != 0 {
		t.Fatalf("foyer admin %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			t.Fatalf("foyer admin %s: %v\n%s", strings.Join(args, " "), err, stdout)
		}
	}
}

// TestAdminCLI: a user and a client made with the CLI log in through the
// real gateway; the CLI lists and revokes the session, which ends it for
// the browser, the client's refresh token and (over the back channel) the
// client.
func TestAdminCLI(t *testing.T) {
	dir := t.TempDir()
	addr, adminAddr := freeAddr(t), freeAddr(t)
	e := &adminEnv{base: "http://" + addr, adminBase: "http://" + adminAddr, tokenFile: filepath.Join(dir, "admin-token"), dir: dir}
	file := adminConfig(t, dir, addr, adminAddr, randomText(32))
	e.proc = startFoyer(t, e.base, "serve", "--config", file)
	defer e.proc.stop(t)

	logouts := make(chan string, 4)
	bc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logouts <- r.PostFormValue("logout_token")
	}))
	defer bc.Close()

	// The ops endpoints are still there, and the API wants the token.
	for path, want := range map[string]int{"/healthz": 200, "/metrics": 200, "/api/v1/users": 401} {
		resp, err := http.Get(e.adminBase + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s on admin.addr: %d, want %d", path, resp.StatusCode, want)
		}
	}

	const password = "bob-password-for-admin-test"
	var bob admin.User
	e.cliJSON(t, password+"\n", &bob, "users", "create", "--username", "bob", "--email", "bob@example.com", "--email-verified", "--name", "Bob", "--group", "ops", "--password-stdin")
	if bob.ID == "" || !bob.HasPassword || bob.Username != "bob" {
		t.Fatalf("created %+v", bob)
	}
	var app admin.ClientWithSecret
	e.cliJSON(t, "", &app, "clients", "create", "--id", "app", "--name", "App", "--redirect-uri", chainRedirect,
		"--backchannel-logout-uri", bc.URL+"/bc")
	if app.Secret == "" {
		t.Fatal("no client secret")
	}
	out, _, code := e.cli(t, "", "users", "list")
	if code != 0 || !strings.Contains(out, bob.ID) || !strings.Contains(out, "USERNAME") {
		t.Fatalf("users list: %d\n%s", code, out)
	}

	login := adminLogin(t, e.base, app.Secret, "bob", password)
	if login.sub != bob.ID {
		t.Fatalf("sub %q, want bob's id %q", login.sub, bob.ID)
	}

	var sessions admin.SessionList
	e.cliJSON(t, "", &sessions, "sessions", "list", bob.ID)
	if len(sessions.Sessions) != 1 || !strings.Contains(strings.Join(sessions.Sessions[0].Clients, ","), "app") {
		t.Fatalf("sessions %+v", sessions)
	}
	sid := sessions.Sessions[0].ID
	if out, _, _ := e.cli(t, "", "sessions", "list", bob.ID); !strings.Contains(out, sid) {
		t.Errorf("sessions list (table) does not show the session:\n%s", out)
	}
	out, errOut, code := e.cli(t, "", "sessions", "revoke", sid)
	if code != 0 || !strings.Contains(out, "revoked session") {
		t.Fatalf("sessions revoke: %d\n%s%s", code, out, errOut)
	}
	e.cliJSON(t, "", &sessions, "sessions", "list", bob.ID)
	if len(sessions.Sessions) != 0 {
		t.Fatalf("sessions after revoke: %+v", sessions)
	}

	// The session is gone for the browser, the client's refresh token and
	// the client's back channel.
	if got := login.promptNone(t); got != "login_required" {
		t.Errorf("prompt=none after revoke: %q, want login_required", got)
	}
	if _, err := login.cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: login.refresh}).Token(); err == nil {
		t.Error("the session's refresh token still works")
	}
	select {
	case tok := <-logouts:
		if claims := jwtClaims(t, tok); claims["sub"] != bob.ID || claims["events"] == nil {
			t.Errorf("logout token claims %v", claims)
		}
	case <-time.After(15 * time.Second):
		t.Error("no back-channel logout token arrived")
	}

	var audit admin.AuditList
	e.cliJSON(t, "", &audit, "audit", "--since", "1h")
	var actions []string
	for _, ev := range audit.Events {
		actions = append(actions, ev.Action)
	}
	if got := strings.Join(actions, " "); got != "user.create client.create session.revoke" {
		t.Errorf("audit actions %q", got)
	}
	e.cliJSON(t, "", nil, "users", "disable", bob.ID)
	if out, _, code := e.cli(t, "", "users", "delete", bob.ID); code != 0 || !strings.Contains(out, "deleted user") {
		t.Errorf("users delete: %d %s", code, out)
	}

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "unknown verb", args: []string{"users", "frob"}, code: exitConfig, want: "unknown command"},
		{name: "missing argument", args: []string{"sessions", "revoke"}, code: exitConfig, want: "want ID"},
		{name: "unknown flag", args: []string{"users", "list", "--colour"}, code: exitConfig, want: "colour"},
		{name: "refused by the API", args: []string{"users", "delete", bob.ID}, code: exitFail, want: "no such user"},
		{name: "invalid input", args: []string{"clients", "create", "--id", "x", "--redirect-uri", "http://evil.example.com/cb"}, code: exitFail, want: "redirectURIs[0]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := e.cli(t, "", tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, errOut)
			}
		})
	}
	wrong := filepath.Join(dir, "wrong-token")
	writeFile(t, wrong, randomText(32))
	if _, errOut, code := runFoyer(t, "", "admin", "--addr", adminAddr, "--token-file", wrong, "users", "list"); code != exitFail || !strings.Contains(errOut, "401") {
		t.Errorf("a wrong token: exit %d\n%s", code, errOut)
	}
	if _, _, code := runFoyer(t, "", "admin", "users", "list"); code != exitConfig {
		t.Errorf("no address: exit %d, want %d", code, exitConfig)
	}

	for name, secret := range map[string]string{"password": password, "client secret": app.Secret, "refresh token": login.refresh} {
		if strings.Contains(e.proc.logs(), secret) {
			t.Errorf("the server log holds the %s", name)
		}
	}
}

// TestServeRefusesWeakAdminToken: with admin.addr set, foyer does not start
// unless the token file holds a token of at least 32 characters.
func TestServeRefusesWeakAdminToken(t *testing.T) {
	for _, tt := range []struct {
		name, token string
		remove      bool
	}{
		{name: "short token", token: "admin-token-for-tests"},
		{name: "no token file", token: randomText(32), remove: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := adminConfig(t, dir, freeAddr(t), freeAddr(t), tt.token)
			if tt.remove {
				os.Remove(filepath.Join(dir, "admin-token"))
			}
			_, errOut, code := runFoyer(t, "", "serve", "--config", file)
			if code != exitFail || !strings.Contains(errOut, "admin.tokenFile") {
				t.Fatalf("exit %d; output:\n%s", code, errOut)
			}
			if strings.Contains(errOut, tt.token) {
				t.Error("the refusal quotes the token")
			}
			if _, err := os.Stat(filepath.Join(dir, "foyer.db")); err == nil {
				t.Error("a database was created although nothing should have started")
			}
		})
	}
}

// adminLoginResult is a finished login of the test client.
type adminLoginResult struct {
	sub, refresh string
	cfg          oauth2.Config
	browser      *http.Client
}

// adminLogin logs a user in to the client "app" through the real gateway,
// as devLogin does for the demo user.
func adminLogin(t *testing.T, base, secret, username, password string) adminLoginResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: "app", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: chainRedirect, Scopes: []string{"openid", "email"}}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := oauth2.GenerateVerifier()
	next := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n0nce"))
	code := walkToCode(t, browser, base, next, cfg.RedirectURL, username, password)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "app"}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	return adminLoginResult{sub: idt.Subject, refresh: tok.RefreshToken, cfg: cfg, browser: browser}
}

// promptNone asks for a code without any page and returns the error the
// client gets back ("" if it got a code).
func (l adminLoginResult) promptNone(t *testing.T) string {
	t.Helper()
	resp, err := l.browser.Get(l.cfg.AuthCodeURL("st2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("prompt=none: %s without a redirect", resp.Status)
	}
	if q := loc.Query(); q.Get("code") == "" {
		return q.Get("error")
	}
	return ""
}

// jwtClaims decodes a JWT's payload without checking it (the gateway's
// own tests check logout tokens' signatures).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
