package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Helpers for the token and userinfo endpoints and for reading JWTs.

// tokenResp is a token or userinfo endpoint answer.
type tokenResp struct {
	Status int
	Header http.Header
	JSON   map[string]any
}

func (r tokenResp) str(k string) string { s, _ := r.JSON[k].(string); return s }

// errCode is the OAuth error code of the answer, or "".
func (r tokenResp) errCode() string { return r.str("error") }

// tokenRequest posts form to /token; with basic, the client authenticates
// with HTTP Basic (form-urlencoded parts, RFC 6749 §2.3.1).
func (h *harness) tokenRequest(form url.Values, basicID, basicSecret string) tokenResp {
	h.t.Helper()
	r, err := h.postToken(form, basicID, basicSecret)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// postToken is tokenRequest without t.Fatal, for other goroutines.
func (h *harness) postToken(form url.Values, basicID, basicSecret string) (tokenResp, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, h.issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return tokenResp{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return tokenResp{}, err
	}
	defer res.Body.Close()
	out := tokenResp{Status: res.StatusCode, Header: res.Header}
	if err := json.NewDecoder(res.Body).Decode(&out.JSON); err != nil {
		return out, fmt.Errorf("token endpoint answered %d with no JSON: %w", res.StatusCode, err)
	}
	return out, nil
}

// exchangeNoFatal and refreshNoFatal run from other goroutines: a
// transport failure comes back as status 0.
func (h *harness) exchangeNoFatal(c rp, code, verifier string) tokenResp {
	r, _ := h.postToken(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirect}, "code_verifier": {verifier},
	}, c.ID, c.secret)
	return r
}

func (h *harness) refreshNoFatal(c rp, token string) tokenResp {
	r, _ := h.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}, c.ID, c.secret)
	return r
}

func (h *harness) readJSON(req *http.Request) tokenResp {
	h.t.Helper()
	r := h.send(http.DefaultClient, req)
	out := tokenResp{Status: r.Status, Header: r.Header}
	if strings.TrimSpace(r.Body) != "" {
		if err := json.Unmarshal([]byte(r.Body), &out.JSON); err != nil {
			h.t.Fatalf("%s: body is not JSON (status %d): %q", req.URL.Path, r.Status, r.Body)
		}
	}
	return out
}

// clientRequest authenticates c at the token endpoint: Basic for confidential
// clients, client_id in the body for public ones.
func (h *harness) clientRequest(c rp, form url.Values) tokenResp {
	h.t.Helper()
	if c.secret == "" {
		form.Set("client_id", c.ID)
		return h.tokenRequest(form, "", "")
	}
	return h.tokenRequest(form, c.ID, c.secret)
}

// exchange redeems a code for c.
func (h *harness) exchange(c rp, code, verifier string) tokenResp {
	h.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return h.clientRequest(c, form)
}

// refresh uses a refresh token for c, optionally asking for scope.
func (h *harness) refresh(c rp, token, scope string) tokenResp {
	h.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return h.clientRequest(c, form)
}

// mustTokens checks a successful token response.
func (h *harness) mustTokens(r tokenResp) tokenResp {
	h.t.Helper()
	if r.Status != http.StatusOK || r.str("access_token") == "" {
		h.t.Fatalf("token request: status %d, error %q (%s)", r.Status, r.errCode(), r.str("error_description"))
	}
	return r
}

// wantTokenError checks an error answer of the token endpoint.
func (h *harness) wantTokenError(r tokenResp, status int, code string) {
	h.t.Helper()
	if r.Status != status || r.errCode() != code {
		h.t.Errorf("token endpoint: status %d error %q (%s), want %d %q", r.Status, r.errCode(), r.str("error_description"), status, code)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		h.t.Errorf("token error Cache-Control = %q, want no-store", cc)
	}
}

// userinfo calls /userinfo with a Bearer header.
func (h *harness) userinfo(accessToken string) tokenResp {
	h.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, h.issuer+"/userinfo", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return h.readJSON(req)
}

// tokensFor runs a whole login for c and returns the token response.
func (h *harness) tokensFor(b *http.Client, c rp, username string, extra url.Values) tokenResp {
	h.t.Helper()
	code, verifier := h.login(b, c, username, extra)
	return h.mustTokens(h.exchange(c, code, verifier))
}

// decodeJWT reads a JWT's payload into v without checking the signature
// (the tests that care verify with go-oidc).
func decodeJWT(t *testing.T, token string, v any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact token: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		t.Fatal(err)
	}
}
