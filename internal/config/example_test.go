package config_test

import (
	"fmt"

	"github.com/foyerid/foyer/internal/config"
)

// ldapConfig stands for a connector package's Config type.
type ldapConfig struct {
	Host string `yaml:"host"`
}

// Validate makes the connector's own checks; paths are relative to its
// config block.
func (c *ldapConfig) Validate() []config.Problem {
	if c.Host == "" {
		return []config.Problem{{Path: "host", Msg: "required"}}
	}
	return nil
}

func ExampleParse() {
	src := `issuer: https://id.example.com/
keys:
  kek: {env: FOYER_KEK}
clients:
  - id: app
    secret: ${APP_SECRET}
    redirectURIs: [https://app.example.com/callback]
connectors:
  - id: corp
    type: ldap
    config: {host: ldap.example.com}
`
	env := func(name string) (string, bool) {
		if name == "APP_SECRET" {
			return "s3cret", true
		}
		return "", false
	}
	reg := config.Registry{Connectors: map[string]func() any{
		"ldap": func() any { return new(ldapConfig) },
	}}
	c, err := config.Parse([]byte(src), "foyer.yaml", env, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Issuer)
	fmt.Println(c.Clients[0].Secret, c.Clients[0].GrantTypes, c.Clients[0].PKCERequired())
	fmt.Println(c.Connectors[0].Config.(*ldapConfig).Host, c.Tokens.RefreshAbsolute)
	// Output:
	// https://id.example.com
	// REDACTED [authorization_code refresh_token] true
	// ldap.example.com 720h
}

func ExampleProblems() {
	src := `issuer: https://id.example.com
keys:
  kek: {env: FOYER_KEK}
  rotationPeriod: 6
http:
  adr: 0.0.0.0:5556
connectors:
  - id: corp
    type: ldap
    config:
      hots: ldap.example.com
`
	reg := config.Registry{Connectors: map[string]func() any{
		"ldap": func() any { return new(ldapConfig) },
	}}
	_, err := config.Parse([]byte(src), "foyer.yaml", nil, reg)
	fmt.Println(err)
	// Output:
	// foyer.yaml:4: keys.rotationPeriod: use a unit, e.g. 10m
	// foyer.yaml:6: http.adr: unknown key (did you mean addr?)
	// foyer.yaml:10: connectors[0].config.host: required
	// foyer.yaml:11: connectors[0].config.hots: unknown key (did you mean host?)
}
