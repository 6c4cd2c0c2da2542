package saml_test

import (
	"fmt"
	"log"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/saml"
	"github.com/foyerid/foyer/storage/memory"
)

// ExampleOpen opens a connector for an IdP whose metadata is fetched at
// the first login: opening contacts no one, so Foyer starts while the IdP
// is down. The SP metadata to give the IdP is served by MetadataHandler.
func ExampleOpen() {
	conn, err := saml.Open(saml.Config{
		IDPMetadataURL: "https://corp.okta.example/app/exk1abc/sso/saml/metadata",
		GroupsAttr:     []string{"groups"},
		AllowedGroups:  []string{"staff"},
	}, connectors.Env{
		ID:          "corp",
		Issuer:      "https://login.example.com",
		CallbackURL: "https://login.example.com/callback/corp",
		Replay:      memory.New(),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(conn.EntityID())
	// Output: https://login.example.com/saml/corp/metadata
}
