package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/local"
	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/keys"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// Fuzz targets for the endpoints a stranger can reach. Each serves requests
// in process (no listener, so the fuzzer runs thousands a second) and
// checks what must hold for any input: no 5xx (a panic shows as the
// middleware's 500), no stack trace, a readable page or the right OAuth
// error, and no redirect anywhere a client did not register.
//
// Seeds may hold placeholders that each input replaces with live values:
// @CODE@ and @VERIFIER@ (a fresh authorization code of client conf and its
// PKCE verifier), @REFRESH@ (a fresh refresh token of conf), @ACCESS@ (a
// live access token), @IDTOKEN@ (an ID token for the SSO session) and
// @STATE@ (the state of a request waiting at /callback/up).

const fuzzIssuer = "https://id.example"

// fuzzEnv is a gateway with the clients conf (confidential, no consent),
// pub (public, loopback and private-use redirect URIs), cli (password
// grant) and cons (asks for consent); the user alice; the local connector
// and a fake callback connector "up".
type fuzzEnv struct {
	gw       *Server
	store    *memory.Store
	now      func() time.Time
	alice    string
	clients  map[string]storage.Client
	upstream *fakeUpstream
	access   string
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	start := time.Now().UTC().Truncate(time.Second)
	e := &fuzzEnv{now: func() time.Time { return start }, clients: map[string]storage.Client{}, upstream: &fakeUpstream{}}
	e.store = memory.New(memory.WithClock(e.now))
	logger := slog.New(slog.DiscardHandler)
	km, err := keys.NewManager(e.store, keys.GenerateKEK(), keys.Options{Algorithms: []string{"ES256"}, TokenLifetime: time.Hour, Clock: e.now})
	if err != nil {
		tb.Fatal(err)
	}
	if err := km.Init(context.Background()); err != nil {
		tb.Fatal(err)
	}
	lc, err := local.Open(local.Config{}, connectors.Env{ID: "local", Users: e.store, Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	e.upstream.set(connectors.Identity{Subject: "up-1", Email: "u@up.example", EmailVerified: true, Name: "Up"})
	e.gw, err = New(Options{
		Issuer: fuzzIssuer, Directory: e.store, State: e.store, Keys: km,
		Connectors: []Connector{
			{ID: "local", Type: "local", Name: "Email", Impl: lc, Policy: identity.Policy{Signup: true}},
			{ID: "up", Type: "fake", Name: "Upstream", Impl: e.upstream, Policy: identity.Policy{Signup: true}},
		},
		Linker:    identity.NewLinker(e.store, e.now, logger),
		Lifetimes: DefaultLifetimes,
		FlowKey:   []byte(strings.Repeat("f", 32)),
		Logger:    logger,
		Clock:     e.now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	hash, err := identity.HashPasswordWith(testPassword, cheapParams)
	if err != nil {
		tb.Fatal(err)
	}
	e.alice = storage.NewID()
	fuzzMust(tb, e.store.CreateUser(context.Background(), storage.User{
		ID: e.alice, Username: "alice", Email: "alice@example.com", EmailVerified: true, PasswordHash: hash, CreatedAt: start,
	}))
	for _, c := range []storage.Client{
		{ID: "conf", SecretHash: HashClientSecret("secret-conf"), SkipConsent: true,
			RedirectURIs:           []string{"https://conf.rp.example/cb", "https://conf.rp.example/cb?tenant=1"},
			PostLogoutRedirectURIs: []string{"https://conf.rp.example/bye"}},
		{ID: "pub", Public: true, SkipConsent: true,
			RedirectURIs:           []string{"http://127.0.0.1/cb", "com.example.app:/callback"},
			PostLogoutRedirectURIs: []string{"http://127.0.0.1/bye"}},
		{ID: "cli", SecretHash: HashClientSecret("secret-cli"), GrantTypes: []string{grantPassword, grantRefreshToken}},
		{ID: "cons", SecretHash: HashClientSecret("secret-cons"), RedirectURIs: []string{"https://cons.rp.example/cb"}},
	} {
		fuzzMust(tb, e.store.CreateClient(context.Background(), c))
		e.clients[c.ID] = c
	}
	tok, _ := e.tokens(tb, false)
	e.access = tok.AccessToken
	return e
}

func fuzzMust(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func (e *fuzzEnv) login(sessionID string) storage.Login {
	return storage.Login{
		UserID: e.alice, ConnectorID: "local", Subject: e.alice, AuthTime: e.now(), AMR: []string{"pwd"},
		Claims:    storage.Claims{Email: "alice@example.com", EmailVerified: true, Username: "alice"},
		SessionID: sessionID,
	}
}

// session stores a live SSO session for alice and returns its cookie value
// and id.
func (e *fuzzEnv) session(tb testing.TB) (cookie, id string) {
	cookie = storage.NewSecret()
	id = storage.HashSecret(cookie)
	now := e.now()
	fuzzMust(tb, e.store.CreateSession(context.Background(), storage.Session{
		ID: id, UserID: e.alice, Login: e.login(id), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(time.Hour),
	}))
	return cookie, id
}

// tokens stores a grant of conf for alice (with a refresh token when
// refresh is set) and mints its tokens.
func (e *fuzzEnv) tokens(tb testing.TB, refresh bool) (*tokenResponse, string) {
	tb.Helper()
	now := e.now()
	g := storage.Grant{ID: storage.NewID(), ClientID: "conf", Scopes: []string{"openid", "email", "offline_access"},
		Login: e.login(""), Offline: true, CreatedAt: now, ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(time.Hour)}
	var rt string
	if refresh {
		rt = storage.NewSecret()
		g.TokenHash = storage.HashSecret(rt)
	}
	fuzzMust(tb, e.store.CreateGrant(context.Background(), g))
	resp, err := e.gw.mint(context.Background(), e.clients["conf"], g, g.Scopes, "n-1", rt)
	fuzzMust(tb, err)
	return resp, rt
}

// fill replaces the placeholders in s with live values.
func (e *fuzzEnv) fill(tb testing.TB, s string, flowCookie string) string {
	tb.Helper()
	if strings.Contains(s, "@CODE@") {
		code, verifier := storage.NewSecret(), storage.NewSecret()+"-verifier"
		challenge := s256(verifier)
		now := e.now()
		fuzzMust(tb, e.store.CreateAuthCode(context.Background(), storage.AuthCode{
			ID: storage.HashSecret(code), ClientID: "conf", RedirectURI: "https://conf.rp.example/cb",
			Scopes: []string{"openid", "offline_access"}, CodeChallenge: challenge, CodeChallengeMethod: pkceS256,
			Login: e.login(""), GrantID: storage.NewID(), CreatedAt: now, ExpiresAt: now.Add(time.Minute),
		}))
		s = strings.ReplaceAll(strings.ReplaceAll(s, "@CODE@", code), "@VERIFIER@", verifier)
	}
	if strings.Contains(s, "@REFRESH@") {
		_, rt := e.tokens(tb, true)
		s = strings.ReplaceAll(s, "@REFRESH@", rt)
	}
	if strings.Contains(s, "@IDTOKEN@") {
		resp, _ := e.tokens(tb, false)
		s = strings.ReplaceAll(s, "@IDTOKEN@", resp.IDToken)
	}
	s = strings.ReplaceAll(s, "@ACCESS@", e.access)
	if strings.Contains(s, "@STATE@") {
		id, secret := storage.NewSecret(), storage.NewSecret()
		now := e.now()
		fuzzMust(tb, e.store.CreateAuthRequest(context.Background(), storage.AuthRequest{
			ID: storage.HashSecret(id), ClientID: "conf", RedirectURI: "https://conf.rp.example/cb", ResponseType: "code",
			Scopes: []string{"openid"}, State: "rp-state", MaxAge: -1, Binding: storage.HashSecret(flowCookie),
			Step: stepCallback, StepSecret: storage.HashSecret(secret), ConnectorID: "up", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		}))
		s = strings.ReplaceAll(s, "@STATE@", id+"."+secret)
	}
	return s
}

// s256 is the PKCE S256 challenge of verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// request builds a request to path; a non-empty contentType sets the body.
func fuzzRequest(method, path, rawQuery, contentType, body string) *http.Request {
	var r io.Reader
	if method != http.MethodGet && method != http.MethodHead {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, fuzzIssuer+path, r)
	req.URL.RawQuery = rawQuery
	req.RequestURI = ""
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func (e *fuzzEnv) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	return w
}

// A Go stack trace: "goroutine 7 [running]:" or a tab-indented frame.
var stackRE = regexp.MustCompile(`goroutine \d+ \[|\n\t[^\n]*\.go:\d+`)

// checkCommon asserts what every response must satisfy. allow names a 5xx
// status the caller accepts (0: none).
func checkCommon(t *testing.T, w *httptest.ResponseRecorder, input string, allow ...int) {
	t.Helper()
	body := w.Body.String()
	if w.Code >= 500 && !slices.Contains(allow, w.Code) {
		t.Fatalf("status %d for %q:\n%s", w.Code, input, body)
	}
	if stackRE.MatchString(body) {
		t.Fatalf("stack trace in body for %q:\n%s", input, body)
	}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") && w.Code >= 400 && heading(body) == "" {
		t.Fatalf("status %d page without a heading for %q:\n%s", w.Code, input, body)
	}
}

// responseTarget reports whether loc is one of uris, byte for byte (or,
// for a public client, a loopback URI with another port, RFC 8252 §7.3),
// followed by nothing or by a query of only the keys in keys.
func responseTarget(c storage.Client, uris []string, loc string, keys ...string) bool {
	for _, reg := range uris {
		candidates := []string{reg}
		if c.Public {
			for _, host := range []string{"http://127.0.0.1", "http://[::1]"} {
				if rest, ok := strings.CutPrefix(reg, host+"/"); ok {
					if m := regexp.MustCompile(`^` + regexp.QuoteMeta(host) + `:[0-9]{1,5}/`).FindString(loc); m != "" {
						candidates = append(candidates, m+rest)
					}
				}
			}
		}
		for _, base := range candidates {
			rest, ok := strings.CutPrefix(loc, base)
			if !ok {
				continue
			}
			if rest == "" {
				return true
			}
			sep := "?"
			if strings.Contains(base, "?") {
				sep = "&"
			}
			q, ok := strings.CutPrefix(rest, sep)
			if !ok {
				continue
			}
			v, err := url.ParseQuery(q)
			if err != nil {
				continue
			}
			good := true
			for k := range v {
				good = good && slices.Contains(keys, k)
			}
			if good {
				return true
			}
		}
	}
	return false
}

// sameOrigin reports whether a browser reads ref as a reference on the
// same origin: no scheme, and no "//" (nor "/\", nor either once the
// tabs, newlines and edge spaces browsers drop are gone).
func sameOrigin(ref string) bool {
	ref = strings.TrimFunc(ref, func(r rune) bool { return r <= ' ' })
	ref = strings.NewReplacer("\t", "", "\r", "", "\n", "", "\\", "/").Replace(ref)
	if strings.HasPrefix(ref, "//") {
		return false
	}
	i := strings.IndexAny(ref, ":/?#")
	return i <= 0 || ref[i] != ':' || !schemeRE.MatchString(ref[:i])
}

// schemeRE is a URI scheme (RFC 3986 §3.1).
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

var authzKeys = []string{"code", "state", "iss", "error", "error_description"}

// checkClientTarget fails unless a response that leaves Foyer (a redirect,
// or a form_post page) goes to a URI registered for the client the
// request names.
func (e *fuzzEnv) checkClientTarget(t *testing.T, w *httptest.ResponseRecorder, params url.Values, logout bool, input string) {
	t.Helper()
	target := ""
	if w.Code >= 300 && w.Code < 400 {
		target = w.Header().Get("Location")
	} else if m := formRE.FindStringSubmatch(w.Body.String()); m != nil && strings.Contains(w.Body.String(), `id="formpost"`) {
		target = attrs(m[1])["action"]
	}
	if target == "" || strings.HasPrefix(target, fuzzIssuer+"/") || sameOrigin(target) {
		return
	}
	ids := params["client_id"]
	c, known := storage.Client{}, false
	if len(ids) == 1 {
		c, known = e.clients[ids[0]]
	}
	ok := known && responseTarget(c, c.RedirectURIs, target, authzKeys...)
	if logout {
		ok = known && responseTarget(c, c.PostLogoutRedirectURIs, target, "state")
		if !known && len(ids) == 0 {
			for _, c := range e.clients { // the client named by id_token_hint
				ok = ok || responseTarget(c, c.PostLogoutRedirectURIs, target, "state")
			}
		}
	}
	if !ok {
		t.Fatalf("response to %q leaves for %q, which is not registered for client %q", input, target, ids)
	}
}

func FuzzAuthorize(f *testing.F) {
	for _, s := range []string{
		"client_id=conf&redirect_uri=https%3A%2F%2Fconf.rp.example%2Fcb&response_type=code&scope=openid+email&state=s&nonce=n",
		"client_id=conf&redirect_uri=https%3A%2F%2Fconf.rp.example%2Fcb%3Ftenant%3D1&response_type=code&scope=openid&prompt=none&response_mode=form_post",
		"client_id=pub&redirect_uri=http%3A%2F%2F127.0.0.1%3A49152%2Fcb&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
		"client_id=pub&redirect_uri=com.example.app%3A%2Fcallback&response_type=token&scope=openid",
		"client_id=cons&response_type=code&scope=openid+offline_access&max_age=0&prompt=consent&connector_id=up",
		"client_id=conf&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid",
		"client_id=conf&client_id=pub&redirect_uri=//evil.example&state=%ff%00",
		"client_id=conf&response_type=code&scope=openid&state=a&state=b&request=x&login_hint=%00",
		"%zz&client_id=conf",
	} {
		f.Add(s, false, true)
		f.Add(s, true, false)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, query string, post, withSession bool) {
		method, raw, ct, body := http.MethodGet, query, "", ""
		if post {
			method, raw, ct, body = http.MethodPost, "", "application/x-www-form-urlencoded", query
		}
		req := fuzzRequest(method, "/authorize", raw, ct, body)
		if withSession {
			cookie, _ := e.session(t)
			req.AddCookie(&http.Cookie{Name: sessionCookieName, Value: cookie})
		}
		w := e.serve(req)
		checkCommon(t, w, query)
		params, _ := url.ParseQuery(query)
		e.checkClientTarget(t, w, params, false, query)
	})
}

// tokenErrors are the codes the token endpoint may answer (RFC 6749 §5.2,
// and RFC 8628 §3.5 for the device code grant).
var tokenErrors = []string{"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope",
	"authorization_pending", "slow_down", "access_denied", "expired_token"}

func FuzzToken(f *testing.F) {
	form := "application/x-www-form-urlencoded"
	basicConf := "Basic Y29uZjpzZWNyZXQtY29uZg==" // conf:secret-conf
	basicCli := "Basic Y2xpOnNlY3JldC1jbGk="      // cli:secret-cli
	for _, s := range []struct{ body, auth, ct string }{
		{"grant_type=authorization_code&code=@CODE@&redirect_uri=https%3A%2F%2Fconf.rp.example%2Fcb&code_verifier=@VERIFIER@", basicConf, form},
		{"grant_type=authorization_code&code=@CODE@&code_verifier=@VERIFIER@&client_id=conf&client_secret=secret-conf", "", form},
		{"grant_type=refresh_token&refresh_token=@REFRESH@&scope=openid", basicConf, form},
		{"grant_type=refresh_token&refresh_token=@REFRESH@", "Basic Y29uZjp3cm9uZw==", form},
		{"grant_type=password&username=alice&password=correct+horse+battery+staple&scope=openid+groups", basicCli, form},
		{"grant_type=password&username=%00&password=%ff&scope=openid&connector_id=up", basicCli, form},
		{"grant_type=client_credentials", basicConf, form},
		{"grant_type=authorization_code&grant_type=refresh_token", "Bearer x", "application/x-www-form-urlencoded; charset=utf-8"},
		{`{"grant_type":"authorization_code"}`, basicConf, "application/json"},
		{"grant_type=refresh_token&refresh_token=x", "Basic %%%", "multipart/form-data; boundary=x"},
		{"client_id=pub&grant_type=authorization_code&code=%ff", "Basic OmE=", form},
	} {
		f.Add(s.body, s.auth, s.ct)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body, auth, ct string) {
		req := fuzzRequest(http.MethodPost, "/token", "", ct, e.fill(t, body, ""))
		if auth != "" {
			req.Header.Set("Authorization", e.fill(t, auth, ""))
		}
		w := e.serve(req)
		input := body + " | " + auth + " | " + ct
		checkCommon(t, w, input)
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("status %d, body not JSON for %q: %q", w.Code, input, w.Body.String())
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("Cache-Control %q for %q", cc, input)
		}
		code, _ := out["error"].(string)
		switch {
		case w.Code == http.StatusOK:
			if at, _ := out["access_token"].(string); at == "" || out["token_type"] != "Bearer" {
				t.Fatalf("200 without a token for %q: %v", input, out)
			}
		case !slices.Contains(tokenErrors, code):
			t.Fatalf("status %d error %q for %q: not an RFC 6749 §5.2 code", w.Code, code, input)
		case (w.Code == http.StatusUnauthorized) != (code == "invalid_client"):
			t.Fatalf("status %d with error %q for %q: 401 is for invalid_client only", w.Code, code, input)
		case code != "invalid_client" && w.Code != http.StatusBadRequest:
			t.Fatalf("status %d with error %q for %q, want 400", w.Code, code, input)
		}
	})
}

func FuzzUserinfo(f *testing.F) {
	for _, s := range []struct {
		auth, body string
		method     uint8
	}{
		{"Bearer @ACCESS@", "", 0},
		{"bearer  @ACCESS@ ", "", 1},
		{"", "access_token=@ACCESS@", 1},
		{"Bearer @ACCESS@", "access_token=@ACCESS@", 1},
		{"Basic Y29uZjpzZWNyZXQtY29uZg==", "", 0},
		{"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "", 0},
		{"Bearer \x00\xff", "", 2},
		{"Bearer", "", 3},
	} {
		f.Add(s.auth, s.body, s.method)
	}
	e := newFuzzEnv(f)
	methods := []string{http.MethodGet, http.MethodPost, http.MethodOptions, http.MethodPut}
	f.Fuzz(func(t *testing.T, auth, body string, method uint8) {
		m := methods[int(method)%len(methods)]
		req := fuzzRequest(m, "/userinfo", "", "application/x-www-form-urlencoded", e.fill(t, body, ""))
		if auth != "" {
			req.Header.Set("Authorization", e.fill(t, auth, ""))
		}
		w := e.serve(req)
		input := m + " " + auth + " | " + body
		checkCommon(t, w, input)
		switch w.Code {
		case http.StatusOK:
			var out map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out["sub"] != e.alice {
				t.Fatalf("200 for %q without alice's claims: %q", input, w.Body.String())
			}
		case http.StatusUnauthorized:
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("401 for %q without a Bearer challenge", input)
			}
		case http.StatusNoContent, http.StatusMethodNotAllowed:
		case http.StatusBadRequest, http.StatusForbidden:
			var out map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || !slices.Contains([]string{"invalid_request", "insufficient_scope"}, out["error"]) {
				t.Fatalf("status %d for %q: %q", w.Code, input, w.Body.String())
			}
		default:
			t.Fatalf("status %d for %q", w.Code, input)
		}
	})
}

func FuzzLogout(f *testing.F) {
	for _, s := range []string{
		"id_token_hint=@IDTOKEN@&post_logout_redirect_uri=https%3A%2F%2Fconf.rp.example%2Fbye&state=s",
		"client_id=pub&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%2Fbye",
		"client_id=conf&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
		"id_token_hint=@IDTOKEN@&client_id=pub&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%2Fbye",
		"post_logout_redirect_uri=//evil.example&state=%ff%00",
		"confirm=yes&csrf=x&post_logout_redirect_uri=https%3A%2F%2Fconf.rp.example%2Fbye&client_id=conf",
		"id_token_hint=a.b.c&id_token_hint=d",
	} {
		f.Add(s, false, true)
		f.Add(s, true, true)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, query string, post, withSession bool) {
		q := e.fill(t, query, "")
		req := fuzzRequest(http.MethodGet, "/logout", q, "", "")
		if post {
			req = fuzzRequest(http.MethodPost, "/logout", "", "application/x-www-form-urlencoded", q)
		}
		var sid string
		if withSession {
			var cookie string
			cookie, sid = e.session(t)
			req.AddCookie(&http.Cookie{Name: sessionCookieName, Value: cookie})
		}
		w := e.serve(req)
		checkCommon(t, w, query)
		params, _ := url.ParseQuery(q)
		e.checkClientTarget(t, w, params, true, query)
		if withSession && w.Code == http.StatusOK && heading(w.Body.String()) == "Log out?" {
			if _, err := e.store.Session(context.Background(), sid); err != nil {
				t.Fatalf("logout asked to confirm but the session is gone for %q: %v", query, err)
			}
		}
	})
}

func FuzzCallback(f *testing.F) {
	for _, s := range []struct {
		conn, query  string
		post, cookie bool
	}{
		{"up", "state=@STATE@&code=upstream-code", false, true},
		{"up", "state=@STATE@&code=wrong", false, true},
		{"up", "RelayState=@STATE@&code=upstream-code", true, true},
		{"up", "state=@STATE@&code=upstream-code", true, false},
		{"up", "state=@STATE@&code=upstream-code", false, false},
		{"up", "state=%2F%2Fevil.example.x&code=upstream-code", false, true},
		{"local", "state=a.b", false, true},
		{"nope", "state=a.b", false, true},
		{"up", "state=" + strings.Repeat("a", 70) + ".b", false, true},
		{"up", "state=.&foyer_resubmit=1", true, false},
	} {
		f.Add(s.conn, s.query, s.post, s.cookie)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, conn, query string, post, withCookie bool) {
		flow := storage.NewSecret()
		q := e.fill(t, query, flow)
		path := "/callback/" + url.PathEscape(conn)
		req := fuzzRequest(http.MethodGet, path, q, "", "")
		if post {
			req = fuzzRequest(http.MethodPost, path, "", "application/x-www-form-urlencoded", q)
		}
		if withCookie {
			req.AddCookie(&http.Cookie{Name: flowCookieName, Value: flow})
		}
		w := e.serve(req)
		// A live state reaches the connector; what the fake upstream
		// answers then is an upstream error, which Foyer shows with 502
		// by design (see callbackError).
		var allow []int
		if strings.Contains(query, "@STATE@") {
			allow = append(allow, http.StatusBadGateway)
		}
		checkCommon(t, w, conn+" "+query, allow...)
		// Every pending request here belongs to conf.
		e.checkClientTarget(t, w, url.Values{"client_id": {"conf"}}, false, conn+" "+query)
	})
}
