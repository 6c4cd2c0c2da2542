package main

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// devFlow is what a login against a dev instance produced.
type devFlow struct {
	sub     string
	secrets map[string]string // bearer secrets seen by the browser and the client
}

var hiddenField = regexp.MustCompile(`name="(req|csrf|step)" value="([^"]*)"`)

func fields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// devLogin logs the demo user in as the demo client would, with
// golang.org/x/oauth2 and go-oidc, but keeps the code to itself, exchanges it
// and refreshes once.
func devLogin(t *testing.T, base string) devFlow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	secret := devSecretFromBanner(t, base)
	cfg := oauth2.Config{
		ClientID: devClientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: base + "/demo/callback", Scopes: []string{"openid", "email", "offline_access"},
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := oauth2.GenerateVerifier()
	next := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n0nce"))
	code := walkToCode(t, browser, base, next, cfg.RedirectURL, devUser, devPassword)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: devClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	secrets := map[string]string{"code": code, "refresh token": tok.RefreshToken, "rotated refresh token": refreshed.RefreshToken}
	for _, c := range jar.Cookies(u) {
		secrets["cookie "+c.Name] = c.Value
	}
	return devFlow{sub: idt.Subject, secrets: secrets}
}

func postForm(t *testing.T, c *http.Client, target string, f url.Values, redirect string, code *string) string {
	t.Helper()
	resp, err := c.PostForm(target, f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("POST %s: %s, no redirect", target, resp.Status)
	}
	if strings.HasPrefix(loc.String(), redirect) {
		*code = loc.Query().Get("code")
	}
	return loc.String()
}

// devSecretFromBanner reads the demo client's secret the way a newcomer
// does: from the banner the running process printed (kept by the test).
func devSecretFromBanner(t *testing.T, base string) string {
	t.Helper()
	for _, p := range runningProcesses {
		if p.base == base {
			if m := regexp.MustCompile(`client_secret=(\S+)`).FindStringSubmatch(p.stdout.String()); m != nil {
				return m[1]
			}
		}
	}
	t.Fatal("no running foyer printed a demo client secret for " + base)
	return ""
}

// walkToCode plays the browser from an authorization URL: it follows
// Foyer's redirects, logs in on the local connector's form as username,
// allows consent if asked, and returns the code sent to redirect.
func walkToCode(t *testing.T, browser *http.Client, base, start, redirect, username, password string) string {
	t.Helper()
	next := start
	var code string
	for i := 0; i < 10 && code == ""; i++ {
		resp, err := browser.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound:
			loc, _ := resp.Location()
			if strings.HasPrefix(loc.String(), redirect) {
				code = loc.Query().Get("code")
				break
			}
			next = loc.String()
		case strings.Contains(string(body), `name="password"`):
			f := fields(string(body))
			f.Set("username", username)
			f.Set("password", password)
			next = postForm(t, browser, base+"/login/local", f, redirect, &code)
		case strings.Contains(string(body), `name="decision"`):
			f := fields(string(body))
			f.Set("decision", "allow")
			next = postForm(t, browser, base+"/consent", f, redirect, &code)
		default:
			t.Fatalf("unexpected page %s:\n%s", resp.Status, body)
		}
	}
	if code == "" {
		t.Fatal("no code")
	}
	return code
}
