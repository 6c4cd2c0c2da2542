package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/foyerid/foyer/storage"
	"github.com/foyerid/foyer/storage/sqlstore"
)

func ExampleOpenSQLite() {
	dir, err := os.MkdirTemp("", "foyer-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	s, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "foyer.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	store := s.Store() // the directory and the state, one file

	// Codes are stored under the hash of the secret the client presents.
	code := storage.NewSecret()
	err = store.State.CreateAuthCode(ctx, storage.AuthCode{
		ID:        storage.HashSecret(code),
		ClientID:  "app",
		ExpiresAt: time.Now().Add(time.Minute),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = store.State.RedeemAuthCode(ctx, storage.HashSecret(code))
	fmt.Println("first redemption:", err)
	_, err = store.State.RedeemAuthCode(ctx, storage.HashSecret(code))
	fmt.Println("second redemption already used:", errors.Is(err, storage.ErrAlreadyUsed))
	// Output:
	// first redemption: <nil>
	// second redemption already used: true
}
