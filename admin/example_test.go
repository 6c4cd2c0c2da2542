package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/foyerid/foyer/admin"
	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/memory"
)

// The admin API over a store; cmd/foyer passes the gateway's EndSession
// and HashClientSecret.
func ExampleNew() {
	store := memory.New()
	api, err := admin.New(admin.Options{
		Token:     "an-admin-token-of-at-least-32-characters",
		Directory: store, State: store,
		EndSession: func(ctx context.Context, s storage.Session) {
			_, _ = store.DeleteSession(ctx, s.ID)
		},
		HashClientSecret: func(secret string) string { return "sha256:" + storage.HashSecret(secret) },
		LocalPasswords:   true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/users", strings.NewReader(`{"username": "bob", "email": "bob@example.com"}`))
	req.Header.Set("Authorization", "Bearer an-admin-token-of-at-least-32-characters")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 201 Created
}
