package gateway

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// Guessing from one address does not lock the person out elsewhere, but a
// campaign over many addresses hits the per-username ceiling.
func TestLoginThrottlePerAddress(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	b := h.browser()
	page := h.startLogin(b, c, nil)
	from := func(ip, password string) int {
		t.Helper()
		f := parseForm(t, page.Body)
		f.Fields.Set("username", "alice")
		f.Fields.Set("password", password)
		req, _ := http.NewRequest(http.MethodPost, h.issuer+"/login/local", strings.NewReader(f.Fields.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", ip)
		return h.send(b, req).Status
	}
	for range loginAttempts {
		if got := from("203.0.113.9", "guess"); got != http.StatusUnauthorized {
			t.Fatalf("guess: %d", got)
		}
	}
	if got := from("203.0.113.9", "guess"); got != http.StatusTooManyRequests {
		t.Fatalf("the 11th guess from one address: %d, want 429", got)
	}
	// The person, elsewhere, still gets in.
	if got := from("198.51.100.7", testPassword); got != http.StatusSeeOther {
		t.Fatalf("login from another address: %d, want 303", got)
	}
	// Guesses spread over many addresses stop at the per-username ceiling.
	b = h.browser()
	page = h.startLogin(b, c, nil)
	refused := false
	for i := 0; i < loginAttemptsTotal && !refused; i++ {
		refused = from(netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i % 250)}).String(), "guess") == http.StatusTooManyRequests
	}
	if !refused {
		t.Fatal("no ceiling across addresses")
	}
}
