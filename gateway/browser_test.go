package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerid/foyer/internal/testenv"
	"github.com/foyerid/foyer/storage"
)

// The headless-Chromium test: a real browser types and clicks through the
// chooser, the login form and the consent page, and reaches the client's
// redirect URI with a code, with JavaScript on and off, in both response
// modes. FOYER_TEST_SCREENSHOTS=<dir> keeps the screenshots after the test.

const (
	chromeTestTimeout = 60 * time.Second // the whole test, browser included
	chromeStepTimeout = 10 * time.Second // one chromedp step
)

// chromePass is one run through the flow in a fresh browser profile.
type chromePass struct {
	name      string
	user      string
	connector string // the chooser entry to click, by its visible name
	formPost  bool
	js        bool
	typo      bool  // first try a wrong password
	dark      bool  // prefers-color-scheme: dark
	width     int64 // the viewport; under 600 it is a phone's
	height    int64
}

func TestBrowserLogin(t *testing.T) {
	opts := testenv.ChromiumOptions(t)
	h := newHarness(t, withLocalConnector(t, "staff", "Staff directory"))
	app := newChromeApp(t)
	c := h.addRP("browser-app", false, func(c *storage.Client) {
		c.Name = "Browser App"
		c.RedirectURIs = []string{app.redirect}
	})
	relying := h.relyingParty(c, oidc.ScopeOpenID, "email", "profile")
	passes := []chromePass{
		{name: "query/js", user: "ada", connector: "Email", js: true, typo: true, width: 1280, height: 800},
		{name: "query/nojs", user: "brian", connector: "Staff directory", dark: true, width: 390, height: 844},
		{name: "form_post/js", user: "chloe", connector: "Staff directory", formPost: true, js: true, width: 1280, height: 800},
		{name: "form_post/nojs", user: "dmitri", connector: "Email", formPost: true, width: 800, height: 700},
	}
	users := map[string]string{}
	for _, p := range passes {
		users[p.user] = h.addUser(p.user, testPassword)
	}

	ctx, cancel := context.WithTimeout(t.Context(), chromeTestTimeout)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc() // before t.TempDir's cleanup removes the profile
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	t.Run("csp-detector", func(t *testing.T) {
		// The console check below proves nothing unless it sees a
		// violation when there is one: a page whose CSP forbids its
		// own inline style must trip it.
		tab := newChromeTab(t, browserCtx, h.issuer, chromePass{js: true, width: 800, height: 600})
		tab.nav("control page", http.StatusOK, chromedp.Navigate(app.url+"/csp-control"))
		tab.mu.Lock()
		found := tab.problems
		tab.mu.Unlock()
		if len(found) == 0 {
			t.Fatal("no CSP violation reported for a page that violates its CSP: the console check is blind")
		}
		t.Logf("the control page's violation was seen: %q", found)
	})

	for _, p := range passes {
		t.Run(p.name, func(t *testing.T) {
			tab := newChromeTab(t, browserCtx, h.issuer, p)
			tab.checkScripting(app)
			verifier, state, nonce := oauth2.GenerateVerifier(), storage.NewSecret(), storage.NewSecret()
			params := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}
			if p.formPost {
				params = append(params, oauth2.SetAuthURLParam("response_mode", "form_post"))
			}
			hit := tab.login(h, app, relying.cfg.AuthCodeURL(state, params...))

			if want := map[bool]string{false: http.MethodGet, true: http.MethodPost}[p.formPost]; hit.method != want {
				t.Errorf("client got the response by %s, want %s", hit.method, want)
			}
			if hit.values.Get("state") != state {
				t.Errorf("state = %q, want %q", hit.values.Get("state"), state)
			}
			if got := hit.values.Get("iss"); got != h.issuer {
				t.Errorf("iss = %q, want %q (RFC 9207)", got, h.issuer)
			}
			code := hit.values.Get("code")
			if code == "" {
				t.Fatalf("no code in the response: %v", hit.values.Get("error"))
			}
			tok, err := relying.cfg.Exchange(relying.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange the code: %v", err)
			}
			id, claims := relying.verify(t, tok, nonce)
			if id.Subject != users[p.user] {
				t.Errorf("sub = %q, want %q", id.Subject, users[p.user])
			}
			if claims.Email == nil || *claims.Email != p.user+"@example.com" {
				t.Errorf("email = %v, want %s@example.com", claims.Email, p.user)
			}
			tab.checkConsole()
		})
	}
}

// login drives the flow from authURL to the client's redirect URI and
// returns what the client received.
func (tab *chromeTab) login(h *harness, app *chromeApp, authURL string) chromeHit {
	t := tab.t
	t.Helper()

	// The chooser: two connectors, so Foyer asks which one.
	tab.nav("authorize", http.StatusOK, chromedp.Navigate(authURL))
	tab.wantPage("chooser", h.issuer+"/login", "ul.choices")
	tab.shot("1-chooser")
	link := chromedp.Search(`//a[normalize-space()="Log in with ` + tab.pass.connector + `"]`)
	tab.nav("choose "+tab.pass.connector, http.StatusOK, chromedp.Click(link))

	// The login form: find each field through its label, then type.
	tab.wantPage("login", h.issuer+"/login/", "#password")
	tab.shot("2-login")
	userField := tab.labelled("Email or username", "username", "text")
	passField := tab.labelled("Password", "current-password", "password")
	// Chromium's own form audit: inputs without labels, labels for
	// nothing, bad autocomplete tokens.
	res, _ := chromeRun(tab, "form issues", func(ctx context.Context, tg *chromedp.Target) (audits.CheckFormsIssuesResult, error) {
		return cdp.Call(ctx, tg, audits.CheckFormsIssues, cdp.Empty{})
	})
	for _, is := range res.FormIssues {
		t.Errorf("chromium reports a form issue on the login page: %s (%s)", is.ErrorType, is.ViolatingNodeAttribute)
	}
	submit := chromedp.Click(chromedp.Search(`//form//button[normalize-space()="Log in"]`))
	tab.step("type username", chromedp.SendKeys(chromedp.ID(userField), tab.pass.user))
	if tab.pass.typo {
		// A wrong password shows the form again, with the error and the
		// username kept; only the password needs typing again.
		tab.step("type a wrong password", chromedp.SendKeys(chromedp.ID(passField), "not "+testPassword))
		tab.nav("log in (wrong password)", http.StatusUnauthorized, submit)
		tab.wantPage("login error", h.issuer+"/login/", "#login-error")
		tab.shot("2-login-error")
		if v, _ := chromeRun(tab, "username kept", chromedp.Value(chromedp.ID(userField))); v != tab.pass.user {
			t.Errorf("username after a failed login = %q, want %q", v, tab.pass.user)
		}
		if a, _ := chromeRun(tab, "field state", chromedp.Attributes(chromedp.ID(userField))); a["aria-invalid"] != "true" {
			t.Errorf("username field after a failed login: aria-invalid=%q, want true", a["aria-invalid"])
		}
	}
	tab.step("type password", chromedp.SendKeys(chromedp.ID(passField), testPassword))
	tab.nav("log in", http.StatusOK, submit)

	// Consent.
	tab.wantPage("consent", h.issuer+"/consent", `button[name="decision"][value="allow"]`)
	tab.shot("3-consent")
	tab.step("focus by keyboard", chromedp.KeyEvent(kb.Tab))
	tab.shot("3-consent-focus")
	allow := chromedp.Click(chromedp.Search(`//button[normalize-space()="Allow"]`))

	// With form_post and JavaScript on, formpost.js submits the form by
	// itself; with JavaScript off, the person clicks Continue.
	tab.nav("allow", http.StatusOK, allow)
	if tab.pass.formPost && !tab.pass.js {
		tab.wantPage("form_post", h.issuer+"/consent", "form#formpost")
		if len(app.hits) != 0 {
			t.Fatal("the form_post form was submitted with JavaScript off")
		}
		tab.shot("4-formpost")
		tab.nav("continue", http.StatusOK, chromedp.Click(chromedp.Search(`//button[normalize-space()="Continue"]`)))
	}
	var hit chromeHit
	select {
	case hit = <-app.hits:
	case <-time.After(chromeStepTimeout):
		tab.fail("the client's redirect URI was never reached")
	}
	tab.wantPage("client", app.redirect, "#client-done")
	tab.shot("5-client")
	return hit
}

// chromeApp is the client's redirect URI: a loopback server that records
// each authorization response (query or form_post) as a chromeHit and
// shows a page.
type chromeApp struct {
	url, redirect string
	hits          chan chromeHit
}

type chromeHit struct {
	method string
	values url.Values
}

func newChromeApp(t *testing.T) *chromeApp {
	a := &chromeApp{hits: make(chan chromeHit, 8)}
	page := func(w http.ResponseWriter, csp, head, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if csp != "" {
			w.Header().Set("Content-Security-Policy", csp)
		}
		fmt.Fprintf(w, `<!doctype html><html lang="en"%s><head><meta charset="utf-8"><title>Browser App</title></head><body>%s</body></html>`, head, body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/cb", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			v = r.PostForm
		}
		select {
		case a.hits <- chromeHit{method: r.Method, values: v}:
		default:
		}
		page(w, "", "", `<h1 id="client-done">Browser App got an answer</h1>`)
	})
	// The probe page tells whether scripts run in the tab.
	mux.HandleFunc("/probe", func(w http.ResponseWriter, r *http.Request) {
		page(w, "", ` data-js="off"`, `<script>document.documentElement.setAttribute("data-js", "on")</script>`)
	})
	// The control page breaks its own CSP with an inline style.
	mux.HandleFunc("/csp-control", func(w http.ResponseWriter, r *http.Request) {
		page(w, "default-src 'none'", "", `<style>p { color: red }</style><p>control</p>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	a.url, a.redirect = srv.URL, srv.URL+"/cb"
	return a
}

// chromeTab is one tab in its own browser context (fresh cookies), with
// everything the page says on the console recorded.
type chromeTab struct {
	t        *testing.T
	ctx      context.Context
	pass     chromePass
	issuer   string // Foyer's pages are the ones under it
	shots    string
	mu       sync.Mutex
	console  []string // everything, for the log
	problems []string // CSP violations, exceptions, console errors
}

func newChromeTab(t *testing.T, browserCtx context.Context, issuer string, p chromePass) *chromeTab {
	tab := &chromeTab{t: t, pass: p, issuer: issuer, shots: chromeShotDir(t)}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tab.listen))
	t.Cleanup(cancel)
	tab.ctx = ctx
	if err := chromedp.Do(ctx); err != nil { // opens the tab: no timeout here
		t.Fatalf("open tab: %v", err)
	}
	var mobile []chromedp.EmulateViewportOption
	if p.width < 600 {
		mobile = append(mobile, chromedp.EmulateMobile)
	}
	scheme := map[bool]string{false: "light", true: "dark"}[p.dark]
	tab.step("set up the tab",
		cdpStep(audits.Enable, cdp.Empty{}),
		chromedp.EmulateViewport(p.width, p.height, mobile...),
		cdpStep(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		}),
		cdpStep(emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !p.js}),
	)
	return tab
}

// cdpStep sends one protocol command and drops its result.
func cdpStep[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cmd, params)
		return err
	})
}

// chromeShotDir is where a test's screenshots go: its temp dir, or
// $FOYER_TEST_SCREENSHOTS/<test name> to keep them.
func chromeShotDir(t *testing.T) string {
	keep := os.Getenv("FOYER_TEST_SCREENSHOTS")
	if keep == "" {
		return t.TempDir()
	}
	dir := filepath.Join(keep, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// listen runs in the tab's event loop: record, never block.
func (tab *chromeTab) listen(ev any) {
	var line, problem = "", false
	switch ev := ev.(type) {
	case *log.EventEntryAdded:
		e := ev.Entry
		line = fmt.Sprintf("log %s/%s %s: %s", e.Source, e.Level, e.URL, e.Text)
		// Failed loads are network errors: the favicon's 404 and the wrong
		// password's 401 are expected, a stylesheet or script failing is not.
		problem = e.Source == log.EntrySourceSecurity || strings.Contains(e.Text, "Content Security Policy") ||
			e.Level == log.EntryLevelError && (e.Source != log.EntrySourceNetwork || strings.Contains(e.URL, "/static/"))
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			args = append(args, a.Description+string(a.Value))
		}
		line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		problem = ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		line = fmt.Sprintf("exception %s:%d: %s", d.URL, d.LineNumber, d.Text)
		if d.Exception != nil {
			line += " " + d.Exception.Description
		}
		problem = true
	case *audits.EventIssueAdded:
		if ev.Issue == nil {
			return
		}
		line = "issue " + string(ev.Issue.Code)
		if d := ev.Issue.Details; d != nil && d.ContentSecurityPolicyIssueDetails != nil {
			line += ": " + d.ContentSecurityPolicyIssueDetails.ViolatedDirective
		}
		problem = ev.Issue.Code == audits.InspectorIssueCodeContentSecurityPolicyIssue
	default:
		return
	}
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.console = append(tab.console, line)
	if problem {
		tab.problems = append(tab.problems, line)
	}
}

// checkConsole fails the test for any CSP violation, exception or console
// error the pages reported.
func (tab *chromeTab) checkConsole() {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	for _, l := range tab.console {
		tab.t.Log("console: " + l)
	}
	for _, p := range tab.problems {
		tab.t.Errorf("browser reported: %s", p)
	}
}

// checkScripting proves the tab runs scripts exactly when the pass says so.
func (tab *chromeTab) checkScripting(app *chromeApp) {
	tab.nav("probe", http.StatusOK, chromedp.Navigate(app.url+"/probe"))
	attrs, _ := chromeRun(tab, "probe", chromedp.Attributes(chromedp.CSS("html")))
	want := map[bool]string{true: "on", false: "off"}[tab.pass.js]
	if attrs["data-js"] != want {
		tab.t.Fatalf("scripts in the tab: %q, want %q", attrs["data-js"], want)
	}
}

// labelled finds the input a visible <label> names, checks its autocomplete
// token and type, and returns its id.
func (tab *chromeTab) labelled(label, autocomplete, typ string) string {
	tab.t.Helper()
	labels, _ := chromeRun(tab, "labels", chromedp.AttributesAll(chromedp.CSSAll("label[for]")))
	for _, l := range labels {
		id := l["for"]
		text, _ := chromeRun(tab, "label text", chromedp.TextContent(chromedp.CSS(`label[for="`+id+`"]`)))
		if strings.TrimSpace(text) != label {
			continue
		}
		in, _ := chromeRun(tab, "field "+id, chromedp.Attributes(chromedp.ID(id)))
		if in["autocomplete"] != autocomplete || in["type"] != typ {
			tab.t.Errorf("field labelled %q: autocomplete=%q type=%q, want %q and %q",
				label, in["autocomplete"], in["type"], autocomplete, typ)
		}
		return id
	}
	tab.fail(fmt.Sprintf("no <label for> reads %q", label))
	return ""
}

// wantPage waits for a selector only that page has, then checks the URL.
func (tab *chromeTab) wantPage(name, urlPrefix, sel string) {
	tab.t.Helper()
	tab.step("wait for the "+name+" page", chromedp.WaitReady(chromedp.CSS(sel)))
	hist, _ := chromeRun(tab, "history", chromedp.NavigationEntries())
	if cur := hist.CurrentIndex; cur >= 0 && int(cur) < len(hist.Entries) {
		if u := hist.Entries[cur].URL; !strings.HasPrefix(u, urlPrefix) {
			tab.fail(fmt.Sprintf("%s page: at %s, want %s…", name, u, urlPrefix))
		}
	}
}

// nav runs an action that loads a page, waits until it has loaded
// (stylesheet included) and checks its status.
func (tab *chromeTab) nav(what string, status int64, a chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, chromeStepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, a)
	if err != nil {
		tab.fail(fmt.Sprintf("%s: %v", what, err))
	}
	if resp == nil {
		return
	}
	if resp.Status != status {
		tab.fail(fmt.Sprintf("%s: %s answered %d", what, resp.URL, resp.Status))
	}
	// The console check means something only if Foyer's pages carry a
	// policy that forbids inline script and style.
	if strings.HasPrefix(resp.URL, tab.issuer+"/") {
		var csp string
		for k, v := range resp.Headers {
			if strings.EqualFold(k, "Content-Security-Policy") {
				csp, _ = v.(string)
			}
		}
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			tab.t.Errorf("%s: %s has Content-Security-Policy %q", what, resp.URL, csp)
		}
	}
}

// step runs actions in order under one step timeout, and stops the pass
// if one fails.
func (tab *chromeTab) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, chromeStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tab.fail(fmt.Sprintf("%s: %v", what, err))
	}
}

// chromeRun runs one action under the step timeout; a failure is reported
// and the pass goes on.
func chromeRun[T any](tab *chromeTab, what string, a chromedp.Action[T]) (T, error) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, chromeStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tab.t.Errorf("%s: %v", what, err)
	}
	return v, err
}

// shot saves a PNG of the whole page. The files go away with the test's
// temp dir unless FOYER_TEST_SCREENSHOTS names a place to keep them.
func (tab *chromeTab) shot(name string) {
	tab.t.Helper()
	png, err := chromeRun(tab, "screenshot "+name, chromedp.FullScreenshot(100))
	if err != nil {
		return
	}
	path := filepath.Join(tab.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tab.t.Fatal(err)
	}
	tab.t.Logf("screenshot %s", path)
}

// fail stops the pass with what the browser shows now.
func (tab *chromeTab) fail(msg string) {
	tab.t.Helper()
	tab.shot("failure")
	if body, err := chromeRun(tab, "page text", chromedp.TextContent(chromedp.CSS("body"))); err == nil {
		tab.t.Logf("page text at failure: %s", strings.Join(strings.Fields(body), " "))
	}
	tab.t.Fatal(msg)
}
