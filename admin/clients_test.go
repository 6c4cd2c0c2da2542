package admin

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerid/foyer/storage"
)

func TestClientLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	var created ClientWithSecret
	h.want(h.call("POST", "/api/v1/clients", NewClient{ID: "app", Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}}), 201, &created)
	if len(created.Secret) < 43 || !created.HasSecret || created.Public || !created.RequirePKCE {
		t.Fatalf("created %+v", created.Client)
	}
	if !slices.Equal(created.GrantTypes, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("default grant types %v", created.GrantTypes)
	}
	stored, err := h.store.Client(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if stored.SecretHash != "sha256:"+storage.HashSecret(created.Secret) {
		t.Errorf("stored %q, not the injected hash of the returned secret", stored.SecretHash)
	}

	r := h.call("GET", "/api/v1/clients/app", nil)
	var got ClientWithSecret
	h.want(r, 200, &got)
	if got.Secret != "" || strings.Contains(string(r.body), created.Secret) || strings.Contains(string(r.body), "sha256:") {
		t.Errorf("GET shows the secret or its hash: %s", r.body)
	}
	var list ClientList
	h.want(h.call("GET", "/api/v1/clients", nil), 200, &list)
	if len(list.Clients) != 1 || list.Clients[0].ID != "app" {
		t.Errorf("list %+v", list)
	}
	if r := h.call("POST", "/api/v1/clients", NewClient{ID: "app", RedirectURIs: []string{"https://x.example.com/cb"}}); r.status != 409 {
		t.Errorf("duplicate id: %d", r.status)
	}

	h.want(h.call("PATCH", "/api/v1/clients/app", map[string]any{"rotateSecret": true}), 200, &got)
	if got.Secret == "" || got.Secret == created.Secret {
		t.Fatal("no new secret")
	}
	if s, _ := h.store.Client(ctx, "app"); s.SecretHash != "sha256:"+storage.HashSecret(got.Secret) {
		t.Error("the rotated secret is not the stored one")
	}
	got = ClientWithSecret{}
	h.want(h.call("PATCH", "/api/v1/clients/app", map[string]any{"public": true}), 200, &got)
	if got.HasSecret || got.Secret != "" || !got.Public {
		t.Errorf("made public: %+v", got)
	}
	got = ClientWithSecret{}
	h.want(h.call("PATCH", "/api/v1/clients/app", map[string]any{"public": false, "name": "App 2"}), 200, &got)
	if got.Secret == "" || !got.HasSecret || got.Name != "App 2" {
		t.Errorf("made confidential again without a secret: %+v", got)
	}
	if r := h.call("PATCH", "/api/v1/clients/app", map[string]any{"redirectURIs": []string{"http://evil.example.com/cb"}}); r.status != 400 || r.errorCode().Field != "redirectURIs[0]" {
		t.Errorf("bad redirect in patch: %d %s", r.status, r.body)
	}
	h.want(h.call("DELETE", "/api/v1/clients/app", nil), 204, nil)
	if r := h.call("GET", "/api/v1/clients/app", nil); r.status != 404 {
		t.Errorf("after delete: %d", r.status)
	}

	var public ClientWithSecret
	h.want(h.call("POST", "/api/v1/clients", NewClient{ID: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb", "com.example.app:/cb"}}), 201, &public)
	if public.Secret != "" || public.HasSecret || !public.RequirePKCE {
		t.Errorf("public client %+v", public)
	}
	want := []string{"client.create", "client.update", "client.update", "client.update", "client.delete", "client.create"}
	if got := h.auditActions(); !slices.Equal(got, want) {
		t.Errorf("audit %v, want %v", got, want)
	}
}

func TestCreateClientRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cb := []string{"https://app.example.com/cb"}
	tests := []struct {
		name  string
		in    NewClient
		field string
	}{
		{name: "no id", in: NewClient{RedirectURIs: cb}, field: "id"},
		{name: "space in id", in: NewClient{ID: "my app", RedirectURIs: cb}, field: "id"},
		{name: "no redirect for code", in: NewClient{ID: "a"}, field: "redirectURIs"},
		{name: "relative", in: NewClient{ID: "a", RedirectURIs: []string{"/cb"}}, field: "redirectURIs[0]"},
		{name: "fragment", in: NewClient{ID: "a", RedirectURIs: []string{"https://app.example.com/cb#x"}}, field: "redirectURIs[0]"},
		{name: "empty fragment", in: NewClient{ID: "a", RedirectURIs: []string{"https://app.example.com/cb#"}}, field: "redirectURIs[0]"},
		{name: "http not loopback", in: NewClient{ID: "a", RedirectURIs: []string{"http://app.example.com/cb"}}, field: "redirectURIs[0]"},
		{name: "wildcard", in: NewClient{ID: "a", RedirectURIs: []string{"https://*.example.com/cb"}}, field: "redirectURIs[0]"},
		{name: "private scheme, confidential", in: NewClient{ID: "a", RedirectURIs: []string{"com.example.app:/cb"}}, field: "redirectURIs[0]"},
		{name: "javascript", in: NewClient{ID: "a", Public: true, RedirectURIs: []string{"javascript:alert(1)"}}, field: "redirectURIs[0]"},
		{name: "second uri", in: NewClient{ID: "a", RedirectURIs: []string{cb[0], "ftp://x/cb"}}, field: "redirectURIs[1]"},
		{name: "post logout", in: NewClient{ID: "a", RedirectURIs: cb, PostLogoutRedirectURIs: []string{"http://x.example.com/"}}, field: "postLogoutRedirectURIs[0]"},
		{name: "back channel", in: NewClient{ID: "a", RedirectURIs: cb, BackchannelLogoutURI: "http://x.example.com/bc"}, field: "backchannelLogoutURI"},
		{name: "grant type", in: NewClient{ID: "a", RedirectURIs: cb, GrantTypes: []string{"implicit"}}, field: "grantTypes[0]"},
		{name: "grant twice", in: NewClient{ID: "a", RedirectURIs: cb, GrantTypes: []string{"refresh_token", "refresh_token"}}, field: "grantTypes[1]"},
		{name: "unknown connector", in: NewClient{ID: "a", RedirectURIs: cb, AllowedConnectors: []string{"local", "ldap"}}, field: "allowedConnectors[1]"},
		{name: "algorithm", in: NewClient{ID: "a", RedirectURIs: cb, SigningAlgorithm: "HS256"}, field: "signingAlgorithm"},
		{name: "public without pkce", in: NewClient{ID: "a", Public: true, RedirectURIs: cb, RequirePKCE: ptr(false)}, field: "requirePKCE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call("POST", "/api/v1/clients", tt.in)
			if r.status != 400 || r.errorCode().Field != tt.field || !strings.Contains(r.errorCode().Message, tt.field) {
				t.Fatalf("%d %s, want 400 naming %s", r.status, r.body, tt.field)
			}
		})
	}
	if list, _ := h.store.ListClients(context.Background()); len(list) != 0 {
		t.Errorf("%d clients stored", len(list))
	}
	// The password grant alone needs no redirect URI.
	if r := h.call("POST", "/api/v1/clients", NewClient{ID: "cli", GrantTypes: []string{"password"}}); r.status != 201 {
		t.Errorf("password-only client: %d %s", r.status, r.body)
	}
}

func TestStaticClientReadOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	c := storage.Client{ID: "static-app", SecretHash: "sha256:abc", RedirectURIs: []string{"https://app.example.com/cb"}, Static: true, CreatedAt: time.Now()}
	if err := h.store.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	h.want(h.call("GET", "/api/v1/clients/static-app", nil), 200, nil)
	for _, tt := range []struct {
		name, method string
		body         any
	}{
		{name: "patch", method: "PATCH", body: map[string]any{"name": "x"}},
		{name: "rotate", method: "PATCH", body: map[string]any{"rotateSecret": true}},
		{name: "delete", method: "DELETE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call(tt.method, "/api/v1/clients/static-app", tt.body)
			if r.status != 409 || !strings.Contains(r.errorCode().Message, "config file") {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	if after, _ := h.store.Client(ctx, "static-app"); after.SecretHash != c.SecretHash || after.Name != "" {
		t.Errorf("the static client changed: %+v", after)
	}
}
