package keys_test

import (
	"context"
	"fmt"
	"log"

	"github.com/foyerid/foyer/keys"
	"github.com/foyerid/foyer/storage/memory"
)

func ExampleManager() {
	kek := keys.GenerateKEK() // in production: keys.LoadKEK(file, "") or keys.LoadKEK("", "FOYER_KEK")
	m, err := keys.NewManager(memory.New(), kek, keys.Options{Algorithms: []string{keys.ES256}})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Init(ctx); err != nil {
		log.Fatal(err)
	}
	// In a server: go m.Run(ctx), and serve m.JWKS() with
	// Cache-Control: max-age=m.JWKSMaxAge().
	tok, err := m.Sign("", "at+jwt", map[string]string{"sub": "alice"})
	if err != nil {
		log.Fatal(err)
	}
	payload, err := m.Verify(tok, "at+jwt")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(payload))
	// Output: {"sub":"alice"}
}
