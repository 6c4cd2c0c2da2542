package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/ldap"
	"github.com/foyerid/foyer/internal/config"
)

// Open a connector for an OpenLDAP directory and log someone in. Open
// reads no directory; the first Login connects.
func ExampleOpen() {
	cfg := ldap.Config{
		Hosts:        []string{"ldap1.example.org:636", "ldap2.example.org:636"},
		RootCA:       "/etc/foyer/ldap-ca.pem",
		BindDN:       "cn=foyer,ou=services,dc=example,dc=org",
		BindPassword: config.Secret(os.Getenv("LDAP_BIND_PASSWORD")),
		UserSearch: ldap.UserSearch{
			BaseDN:   "ou=people,dc=example,dc=org",
			Filter:   "(objectClass=inetOrgPerson)",
			Username: "uid",
			IDAttr:   "entryUUID",
		},
		GroupSearch: ldap.GroupSearch{
			BaseDN:       "ou=groups,dc=example,dc=org",
			UserMatchers: []ldap.UserMatcher{{UserAttr: "DN", GroupAttr: "member"}},
			Nested:       true,
		},
	}
	if problems := cfg.Validate(); len(problems) > 0 {
		fmt.Println(config.Problems(problems))
		return
	}
	c, err := ldap.Open(cfg, connectors.Env{ID: "corp", Logger: slog.Default()})
	if err != nil {
		fmt.Println(err)
		return
	}
	id, ok, err := c.Login(context.Background(), connectors.Scopes{Groups: true}, "alice", "her password")
	switch {
	case errors.Is(err, ldap.ErrUnavailable):
		fmt.Println("the directory is down; try again later")
	case err != nil:
		fmt.Println("directory error:", err)
	case !ok:
		fmt.Println("incorrect username or password")
	default:
		fmt.Println(id.Subject, id.Username, id.Groups)
	}
}
