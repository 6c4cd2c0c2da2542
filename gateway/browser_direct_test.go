package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
)

// When no consent page is due (a trusted client, or consent already
// given), the login form's POST is answered by the redirect to the
// client. Browsers hold that redirect to the login page's CSP form-action,
// so a real browser must get through to a client on another origin.
func TestBrowserLoginStraightToClient(t *testing.T) {
	opts := testenv.ChromiumOptions(t)
	h := newHarness(t)
	app := newChromeApp(t)
	c := h.addRP("trusted-app", false, skipConsent, func(c *storage.Client) { c.RedirectURIs = []string{app.redirect} })
	h.addUser("erin", testPassword)
	relying := h.relyingParty(c, oidc.ScopeOpenID, "email")

	ctx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	browserCtx, cancelBrowser := chromedp.NewContext(ctx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	tab := newChromeTab(t, browserCtx, h.issuer, chromePass{user: "erin", width: 1024, height: 768})
	verifier := oauth2.GenerateVerifier()
	tab.nav("authorize", http.StatusOK, chromedp.Navigate(relying.cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))))
	tab.wantPage("login", h.issuer+"/login/", "#password")
	tab.step("type", chromedp.SendKeys(chromedp.ID("username"), "erin"), chromedp.SendKeys(chromedp.ID("password"), testPassword))
	tab.step("log in", chromedp.Click(chromedp.Search(`//form//button[normalize-space()="Log in"]`)))
	select {
	case hit := <-app.hits:
		if hit.values.Get("code") == "" || hit.values.Get("state") != "st" {
			t.Fatalf("client got %v", hit.values)
		}
		if _, err := relying.cfg.Exchange(relying.ctx, hit.values.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatal(err)
		}
	case <-time.After(chromeStepTimeout):
		tab.checkConsole() // a CSP block shows up here
		tab.fail("the browser never reached the client after the login form")
	}
	tab.checkConsole()
}
