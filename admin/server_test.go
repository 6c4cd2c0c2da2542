package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foyerid/foyer/storage"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name      string
		auth      string
		status    int
		challenge string
	}{
		{name: "no header", auth: "", status: 401, challenge: `Bearer realm="foyer-admin"`},
		{name: "wrong token", auth: "Bearer " + strings.Repeat("x", len(testToken)), status: 401, challenge: `error="invalid_token"`},
		{name: "token prefix", auth: "Bearer " + testToken[:len(testToken)-1], status: 401, challenge: `error="invalid_token"`},
		{name: "token with more", auth: "Bearer " + testToken + "x", status: 401, challenge: `error="invalid_token"`},
		{name: "basic scheme", auth: "Basic " + testToken, status: 401, challenge: `error="invalid_token"`},
		{name: "no scheme", auth: testToken, status: 401, challenge: `error="invalid_token"`},
		{name: "right token", auth: "Bearer " + testToken, status: 200},
		{name: "scheme in lower case", auth: "bearer " + testToken, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.callAuth(http.MethodGet, "/api/v1/users", nil, tt.auth)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status == 401 {
				if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, tt.challenge) {
					t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tt.challenge)
				}
				if e := r.errorCode(); e.Code != CodeUnauthorized || e.Message == "" {
					t.Errorf("error body %s", r.body)
				}
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
		})
	}
	// Even an unknown path needs the token, so the API's shape does not
	// show to strangers.
	if r := h.callAuth(http.MethodGet, "/api/v1/nothing", nil, ""); r.status != 401 {
		t.Errorf("unknown path without a token: %d", r.status)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name, method, path string
		status             int
		code, allow        string
	}{
		{name: "unknown path", method: "GET", path: "/api/v1/nothing", status: 404, code: CodeNotFound},
		{name: "outside the API", method: "GET", path: "/metrics", status: 404, code: CodeNotFound},
		{name: "wrong method", method: "PUT", path: "/api/v1/users", status: 405, code: CodeMethodNotAllowed, allow: "POST"},
		{name: "unknown user", method: "GET", path: "/api/v1/users/nobody", status: 404, code: CodeNotFound},
		{name: "control byte in id", method: "GET", path: "/api/v1/users/a%00b", status: 404, code: CodeNotFound},
		{name: "invalid utf-8 in id", method: "GET", path: "/api/v1/clients/%ff", status: 404, code: CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call(tt.method, tt.path, nil)
			if r.status != tt.status || r.errorCode().Code != tt.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
			if tt.allow != "" && !strings.Contains(r.header.Get("Allow"), tt.allow) {
				t.Errorf("Allow %q, want %s in it", r.header.Get("Allow"), tt.allow)
			}
		})
	}
}

func TestStrictDecoding(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name   string
		body   string
		ctype  string
		status int
		field  string
	}{
		{name: "unknown field", body: `{"username":"bob","admin":true}`, status: 400, field: "admin"},
		{name: "misspelt field", body: `{"userName":"bob"}`, status: 400, field: "userName"},
		{name: "member twice", body: `{"username":"bob","username":"eve"}`, status: 400, field: "username"},
		{name: "wrong type", body: `{"username":"bob","groups":"ops"}`, status: 400, field: "groups"},
		{name: "two objects", body: `{"username":"bob"}{"username":"eve"}`, status: 400},
		{name: "trailing garbage", body: `{"username":"bob"} x`, status: 400},
		{name: "not json", body: `username=bob`, status: 400},
		{name: "an array", body: `[{"username":"bob"}]`, status: 400},
		{name: "empty body", body: ``, status: 400},
		{name: "truncated", body: `{"username":"bo`, status: 400},
		{name: "too large", body: `{"name":"` + strings.Repeat("a", maxBody) + `"}`, status: 413},
		{name: "form content type", body: `{"username":"bob"}`, ctype: "application/x-www-form-urlencoded", status: 415},
		{name: "json with charset", body: `{"username":"carol"}`, ctype: "application/json; charset=utf-8", status: 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/api/v1/users", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+testToken)
			ct := tt.ctype
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e Error
			_ = decodeBody(resp, &e)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%+v)", resp.StatusCode, tt.status, e)
			}
			if tt.status >= 400 && (e.Code == "" || e.Message == "") {
				t.Errorf("error body without code or message: %+v", e)
			}
			if e.Field != tt.field {
				t.Errorf("field %q, want %q", e.Field, tt.field)
			}
		})
	}
	users, _ := h.store.ListUsers(context.Background())
	if len(users) != 1 {
		t.Errorf("%d users stored, want only carol", len(users))
	}
}

func TestNewRefusesWeakToken(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", "short", strings.Repeat("a", MinTokenLength-1), strings.Repeat("a", 20) + " " + strings.Repeat("b", 20)} {
		_, err := New(Options{Token: tok})
		if err == nil {
			t.Errorf("token of %d characters accepted", len(tok))
		}
	}
}

func TestReadTokenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := strings.Repeat("k", MinTokenLength)
	tests := []struct {
		name    string
		content *string
		want    string
		wantErr bool
	}{
		{name: "exact length", content: ptr(good), want: good},
		{name: "trailing newline", content: ptr("  " + good + "\n"), want: good},
		{name: "too short", content: ptr("hunter2-is-a-bad-token\n"), wantErr: true},
		{name: "space inside", content: ptr(good[:16] + " " + good[16:]), wantErr: true},
		{name: "empty", content: ptr(""), wantErr: true},
		{name: "missing file", wantErr: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("token-%d", i))
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadTokenFile(path)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
			if err != nil && tt.content != nil && len(*tt.content) > 4 && strings.Contains(err.Error(), strings.TrimSpace(*tt.content)) {
				t.Errorf("the error quotes the file's content: %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// failing is a directory whose every call fails with err.
type failing struct {
	Directory
	err error
}

func (f failing) ListUsers(context.Context) ([]storage.User, error) { return nil, f.err }

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{name: "unavailable", err: fmt.Errorf("sql: dial 10.0.0.5:5432 password=pg-secret: %w", storage.ErrUnavailable), status: 503, code: CodeUnavailable},
		{name: "anything else", err: errors.New("sql: relation users: password=pg-secret"), status: 500, code: CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.Directory = failing{Directory: o.Directory, err: tt.err} })
			r := h.call(http.MethodGet, "/api/v1/users", nil)
			if r.status != tt.status || r.errorCode().Code != tt.code {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if strings.Contains(string(r.body), "pg-secret") || strings.Contains(string(r.body), "sql") {
				t.Errorf("the answer carries the error's detail: %s", r.body)
			}
			if !strings.Contains(h.logs.String(), "relation users") && tt.status == 500 {
				t.Errorf("the detail is not in the log:\n%s", h.logs.String())
			}
		})
	}
}
