package oidc_test

import (
	"fmt"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/oidc"
)

// Open does no I/O: the upstream is discovered at the first login.
func ExampleOpen() {
	c, err := oidc.Open(oidc.Config{
		Issuer:        "https://accounts.google.com",
		ClientID:      "1234.apps.googleusercontent.com",
		ClientSecret:  "from-the-environment",
		HostedDomains: []string{"example.com"},
	}, connectors.Env{ID: "google", CallbackURL: "https://id.example.com/callback/google"})
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ connectors.CallbackConnector = c
	var _ connectors.RefreshConnector = c
	fmt.Println("ready")
	// Output: ready
}

func ExampleConfig_Validate() {
	cfg := oidc.Config{
		Issuer:      "http://id.example.com",
		ClientID:    "foyer",
		SigningAlgs: []string{"RS256", "HS256", "none"},
	}
	for _, p := range cfg.Validate() {
		fmt.Printf("%s: %s\n", p.Path, p.Msg)
	}
	// Output:
	// issuer: must use https (http only for a loopback host)
	// clientSecret: required, e.g. ${UPSTREAM_CLIENT_SECRET}
	// signingAlgs[1]: HS256 is refused: HMAC would let anyone who knows the upstream's public key sign tokens
	// signingAlgs[2]: none is never accepted: an unsigned token proves nothing
}
