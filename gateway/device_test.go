package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func deviceClient(c *storage.Client) {
	c.GrantTypes = []string{grantDeviceCode, grantRefreshToken}
}

// startDevice asks for a device code as client c.
func (h *harness) startDevice(c rp, scope string) (deviceCode, userCode, verifyComplete string) {
	h.t.Helper()
	r := h.endpointRequest("/device/code", c, url.Values{"scope": {scope}})
	if r.Status != http.StatusOK {
		h.t.Fatalf("/device/code: %d %v", r.Status, r.JSON)
	}
	if r.str("verification_uri") != h.issuer+"/device" || r.JSON["interval"] != float64(5) || r.JSON["expires_in"] != float64(600) {
		h.t.Fatalf("device authorization response: %v", r.JSON)
	}
	return r.str("device_code"), r.str("user_code"), r.str("verification_uri_complete")
}

func (h *harness) pollDevice(c rp, code string) tokenResp {
	h.t.Helper()
	h.clock.Advance(5 * time.Second)
	return h.clientRequest(c, url.Values{"grant_type": {grantDeviceCode}, "device_code": {code}})
}

// approveDevice enters the code in browser b (logging in as alice if there
// is no session) and answers the confirmation page.
func (h *harness) approveDevice(b *http.Client, verifyComplete, decision string) resp {
	h.t.Helper()
	page := h.follow(b, verifyComplete)
	if !strings.Contains(page.Body, `name="user_code"`) {
		h.t.Fatalf("no code form:\n%s", page.Body)
	}
	f := parseForm(h.t, page.Body)
	f.Fields.Set("user_code", attrs(regexpFind(page.Body, `<input id="user_code"[^>]*>`))["value"])
	r := h.followFrom(b, h.postForm(b, page, f))
	if h.kind(r) == kindLogin {
		r = h.followFrom(b, h.submitLogin(b, r, "alice", testPassword))
	}
	if r.URL.Path != "/device/confirm" {
		h.t.Fatalf("want the device confirmation page, got %s %d:\n%s", r.URL, r.Status, r.Body)
	}
	cf := parseForm(h.t, r.Body)
	cf.Fields.Set("decision", decision)
	return h.postForm(b, r, cf)
}

func TestDeviceFlow(t *testing.T) {
	h := newHarness(t)
	alice := h.addUser("alice", testPassword)
	tv := h.addRP("tv", true, deviceClient)
	other := h.addRP("other", false, deviceClient)

	code, user, complete := h.startDevice(tv, "openid email offline_access")
	if len(user) != 9 || user[4] != '-' || strings.ContainsAny(user, "AEIOU0123456789") {
		t.Errorf("user code %q", user)
	}
	h.wantTokenError(h.clientRequest(tv, url.Values{"grant_type": {grantDeviceCode}, "device_code": {code}}), http.StatusBadRequest, "authorization_pending")
	h.wantTokenError(h.clientRequest(tv, url.Values{"grant_type": {grantDeviceCode}, "device_code": {code}}), http.StatusBadRequest, "slow_down")

	// Another client polling the pending code is refused and changes nothing.
	h.wantTokenError(h.pollDevice(other, code), http.StatusBadRequest, "invalid_grant")
	done := h.approveDevice(h.browser(), complete, "allow")
	if done.Status != http.StatusOK || !strings.Contains(done.Body, "Your device is connected") {
		t.Fatalf("approval: %d\n%s", done.Status, done.Body)
	}
	tok := h.mustTokens(h.pollDevice(tv, code))
	var claims struct{ Sub, Email string }
	decodeJWT(t, tok.str("id_token"), &claims)
	if claims.Sub != alice || claims.Email != "alice@example.com" || tok.str("refresh_token") == "" {
		t.Fatalf("device tokens: %+v %v", claims, tok.JSON)
	}
	h.mustTokens(h.refresh(tv, tok.str("refresh_token"), ""))
	// The code is single use.
	h.wantTokenError(h.pollDevice(tv, code), http.StatusBadRequest, "invalid_grant")
}

func TestDeviceFlowRefusals(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", testPassword)
	tv := h.addRP("tv", true, deviceClient)
	web := h.addRP("web", false)

	t.Run("denied", func(t *testing.T) {
		h := h.with(t)
		code, _, complete := h.startDevice(tv, "openid")
		h.approveDevice(h.browser(), complete, "deny")
		h.wantTokenError(h.pollDevice(tv, code), http.StatusForbidden, "access_denied")
	})
	t.Run("expired", func(t *testing.T) {
		h := h.with(t)
		code, _, complete := h.startDevice(tv, "openid")
		h.clock.Advance(deviceCodeTTL)
		h.wantTokenError(h.pollDevice(tv, code), http.StatusBadRequest, "expired_token")
		b := h.browser()
		page := h.follow(b, complete)
		f := parseForm(t, page.Body)
		f.Fields.Set("user_code", strings.TrimPrefix(complete, h.issuer+"/device?user_code="))
		r := h.postForm(b, page, f)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "not valid or has expired") {
			t.Fatalf("expired code at /device: %d", r.Status)
		}
	})
	t.Run("client without the grant", func(t *testing.T) {
		h := h.with(t)
		r := h.endpointRequest("/device/code", web, url.Values{"scope": {"openid"}})
		if r.Status != http.StatusBadRequest || r.errCode() != "unauthorized_client" {
			t.Fatalf("%d %v", r.Status, r.JSON)
		}
	})
	t.Run("session skips the login", func(t *testing.T) {
		h := h.with(t)
		app := h.addRP("app-"+storage.NewID()[:4], false, skipConsent)
		b := h.browser()
		h.login(b, app, "alice", nil)
		code, _, complete := h.startDevice(tv, "openid")
		page := h.follow(b, complete)
		f := parseForm(t, page.Body)
		f.Fields.Set("user_code", strings.TrimPrefix(complete, h.issuer+"/device?user_code="))
		r := h.followFrom(b, h.postForm(b, page, f))
		if r.URL.Path != "/device/confirm" {
			t.Fatalf("with a session: %s", r.URL)
		}
		cf := parseForm(t, r.Body)
		cf.Fields.Set("decision", "allow")
		h.postForm(b, r, cf)
		h.mustTokens(h.pollDevice(tv, code))
	})
	t.Run("wrong codes are throttled", func(t *testing.T) {
		h := h.with(t)
		b := h.browser()
		page := h.follow(b, h.issuer+"/device")
		f := parseForm(t, page.Body)
		var last int
		for range deviceEntries + 1 {
			f.Fields.Set("user_code", "BCDF-GHJK")
			last = h.postForm(b, page, f).Status
		}
		if last != http.StatusTooManyRequests {
			t.Fatalf("after %d wrong codes: %d, want 429", deviceEntries+1, last)
		}
	})
}

// regexpFind returns the first match of pattern in s, or "".
func regexpFind(s, pattern string) string {
	return regexp.MustCompile(pattern).FindString(s)
}
