package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/foyerid/foyer/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const issuerPlaceholder = "{{issuer}}"

func (h *harness) discovery() (raw []byte, doc map[string]any) {
	h.t.Helper()
	r := h.do(http.DefaultClient, http.MethodGet, h.issuer+"/.well-known/openid-configuration", nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		h.t.Fatalf("discovery: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal([]byte(r.Body), &doc); err != nil {
		h.t.Fatal(err)
	}
	return []byte(r.Body), doc
}

// TestDiscoveryGolden compares the discovery document with
// testdata/discovery.golden (the issuer replaced by a placeholder). Run
// with -update to rewrite it after a deliberate change.
func TestDiscoveryGolden(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	raw, _ := h.discovery()
	got := bytes.ReplaceAll(raw, []byte(h.issuer), []byte(issuerPlaceholder))
	path := filepath.Join("testdata", "discovery.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDiscoveryGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("discovery document changed; if deliberate, run go test -run TestDiscoveryGolden -update\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestDiscoveryListsNothingUnsupported tries every value the discovery
// document advertises against the running server. A key this test does
// not know fails it: whoever adds one adds its check here.
func TestDiscoveryListsNothingUnsupported(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	alice := h.addUser("alice", testPassword, "admins")
	c := h.addRP("app", false, skipConsent)
	_, doc := h.discovery()

	strs := func(key string) []string {
		var out []string
		for _, v := range doc[key].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	endpoint := func(t *testing.T, key string) {
		u, _ := doc[key].(string)
		if !strings.HasPrefix(u, h.issuer+"/") {
			t.Fatalf("%s = %q is not under the issuer", key, u)
		}
		if r := h.with(t).do(http.DefaultClient, http.MethodGet, u, nil); r.Status == http.StatusNotFound {
			t.Errorf("%s %s answers 404", key, u)
		}
	}
	// authorize sends an authorization request with extra and returns
	// where the browser ends up.
	authorize := func(t *testing.T, extra url.Values) resp {
		params, _ := authParams(c, extra)
		return h.with(t).follow(h.browser(), h.authorizeURL(params))
	}
	wantFalse := func(t *testing.T, key string) {
		if doc[key] != false {
			t.Errorf("%s = %v, want false", key, doc[key])
		}
	}

	checks := map[string]func(t *testing.T, key string){
		"issuer": func(t *testing.T, key string) {
			if doc[key] != h.issuer {
				t.Errorf("issuer %v", doc[key])
			}
		},
		"authorization_endpoint": endpoint,
		"token_endpoint":         endpoint,
		"userinfo_endpoint":      endpoint,
		"jwks_uri":               endpoint,
		"end_session_endpoint":   endpoint,
		"revocation_endpoint":    endpoint,
		// Exercised by TestDeviceFlow.
		"device_authorization_endpoint": endpoint,
		"introspection_endpoint":        endpoint,
		// Exercised by TestRevocation and TestIntrospection.
		"revocation_endpoint_auth_methods_supported": func(t *testing.T, key string) {
			if got := strs(key); !slices.Equal(got, []string{"client_secret_basic", "client_secret_post", "none"}) {
				t.Errorf("%v", got)
			}
		},
		"introspection_endpoint_auth_methods_supported": func(t *testing.T, key string) {
			if got := strs(key); !slices.Equal(got, []string{"client_secret_basic", "client_secret_post"}) {
				t.Errorf("%v", got)
			}
		},
		"scopes_supported": func(t *testing.T, key string) {
			for _, sc := range strs(key) {
				if r := authorize(t, url.Values{"scope": {"openid " + sc}}); h.kind(r) != kindLogin {
					t.Errorf("scope %q refused", sc)
				}
			}
		},
		"response_types_supported": func(t *testing.T, key string) {
			if got := strs(key); !slices.Equal(got, []string{"code"}) {
				t.Errorf("%v, want [code]", got)
			}
		},
		"response_modes_supported": func(t *testing.T, key string) {
			for _, m := range strs(key) {
				if r := authorize(t, url.Values{"response_mode": {m}}); h.kind(r) != kindLogin {
					t.Errorf("response_mode %q refused", m)
				}
			}
		},
		"grant_types_supported": func(t *testing.T, key string) {
			for _, g := range strs(key) {
				r := h.with(t).tokenRequest(url.Values{"grant_type": {g}}, c.ID, c.secret)
				if r.errCode() == "unsupported_grant_type" {
					t.Errorf("grant_type %q not supported", g)
				}
			}
		},
		"subject_types_supported": func(t *testing.T, key string) {
			if got := strs(key); !slices.Equal(got, []string{"public"}) {
				t.Errorf("%v, want [public]", got)
			}
		},
		"id_token_signing_alg_values_supported": func(t *testing.T, key string) {
			for i, alg := range strs(key) {
				h := h.with(t)
				rc := h.addRP("alg"+string(rune('a'+i)), false, skipConsent, func(c *storage.Client) { c.SigningAlgorithm = alg })
				tok := h.tokensFor(h.browser(), rc, "alice", nil)
				var hdr struct {
					Alg string `json:"alg"`
				}
				decodeJWTHeader(t, tok.str("id_token"), &hdr)
				if hdr.Alg != alg {
					t.Errorf("client asking for %s got an ID token signed with %s", alg, hdr.Alg)
				}
			}
		},
		"token_endpoint_auth_methods_supported": func(t *testing.T, key string) {
			// Each is exercised by TestClientAuthentication.
			want := []string{"client_secret_basic", "client_secret_post", "none"}
			for _, m := range strs(key) {
				if !slices.Contains(want, m) {
					t.Errorf("auth method %q is not tested", m)
				}
			}
		},
		"claims_supported": func(t *testing.T, key string) {
			seen := map[string]bool{}
			tok := h.with(t).tokensFor(h.browser(), c, "alice", url.Values{"scope": {defaultScopes + " identities"}})
			var claims map[string]any
			decodeJWT(t, tok.str("id_token"), &claims)
			for k := range claims {
				seen[k] = true
			}
			for k := range h.with(t).userinfo(tok.str("access_token")).JSON {
				seen[k] = true
			}
			for _, cl := range strs(key) {
				if !seen[cl] {
					t.Errorf("claim %q is never issued", cl)
				}
			}
			if claims["sub"] != alice {
				t.Errorf("sub %v", claims["sub"])
			}
		},
		"code_challenge_methods_supported": func(t *testing.T, key string) {
			if got := strs(key); !slices.Equal(got, []string{"S256"}) {
				t.Errorf("%v, want [S256]", got)
			}
		},
		"prompt_values_supported": func(t *testing.T, key string) {
			for _, p := range strs(key) {
				r := authorize(t, url.Values{"prompt": {p}})
				if h.kind(r) == kindRedirect && r.location().Query().Get("error") != "login_required" {
					t.Errorf("prompt %q: error %q", p, r.location().Query().Get("error"))
				}
			}
		},
		"authorization_response_iss_parameter_supported": func(t *testing.T, key string) {
			if doc[key] != true {
				t.Errorf("%v", doc[key])
			}
			r := authorize(t, url.Values{"scope": {"nope"}})
			if h.kind(r) != kindRedirect || r.location().Query().Get("iss") != h.issuer {
				t.Errorf("authorization response without iss")
			}
		},
		"claims_parameter_supported":      wantFalse,
		"request_parameter_supported":     wantFalse,
		"request_uri_parameter_supported": wantFalse,
		"backchannel_logout_supported": func(t *testing.T, key string) {
			if doc[key] == true && doc["end_session_endpoint"] == nil {
				t.Error("back-channel logout without an end_session_endpoint")
			}
		},
		"backchannel_logout_session_supported": func(t *testing.T, key string) {
			if doc[key] == true && doc["backchannel_logout_supported"] != true {
				t.Error("sid in logout tokens without back-channel logout")
			}
		},
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			check, ok := checks[k]
			if !ok {
				t.Fatalf("discovery advertises %s, which this test does not check", k)
			}
			check(t, k)
		})
	}
}

// decodeJWTHeader reads a JWT's protected header into v.
func decodeJWTHeader(t *testing.T, token string, v any) {
	t.Helper()
	hdr, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}
