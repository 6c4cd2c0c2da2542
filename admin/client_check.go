package admin

import (
	"fmt"
	"slices"
	"strings"

	"github.com/foyerid/foyer/internal/config"
	"github.com/foyerid/foyer/storage"
)

// Grant types a client may be given: the same as in the config file.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantPassword          = "password"
)

// Bounds on a client's lists and values.
const (
	maxURIs      = 64
	maxURILength = 2048
	maxClientID  = 256
)

// checkClientID: printable ASCII without spaces, as in the config file and
// as the gateway accepts at /authorize.
func checkClientID(id string) error {
	if id == "" {
		return invalid("id", "required")
	}
	if len(id) > maxClientID {
		return invalid("id", "at most %d bytes", maxClientID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return invalid("id", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// checkClient validates a whole client by the rules the config file
// applies to its clients (docs/config.md, clients).
func (s *Server) checkClient(c storage.Client) error {
	if err := checkName("name", c.Name); err != nil {
		return err
	}
	for i, g := range c.GrantTypes {
		field := fmt.Sprintf("grantTypes[%d]", i)
		switch {
		case g != grantAuthorizationCode && g != grantRefreshToken && g != grantPassword:
			return invalid(field, "%q is not one of authorization_code, refresh_token, password", g)
		case slices.Index(c.GrantTypes, g) < i:
			return invalid(field, "%s is listed twice", g)
		}
	}
	if slices.Contains(c.GrantTypes, grantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return invalid("redirectURIs", "at least one is required for the authorization_code grant")
	}
	for _, list := range []struct {
		field string
		uris  []string
	}{{"redirectURIs", c.RedirectURIs}, {"postLogoutRedirectURIs", c.PostLogoutRedirectURIs}} {
		if len(list.uris) > maxURIs {
			return invalid(list.field, "at most %d", maxURIs)
		}
		for i, u := range list.uris {
			if err := checkURI(fmt.Sprintf("%s[%d]", list.field, i), u, c.Public); err != nil {
				return err
			}
		}
	}
	if c.BackchannelLogoutURI != "" {
		if err := checkURI("backchannelLogoutURI", c.BackchannelLogoutURI, false); err != nil {
			return err
		}
	}
	for i, id := range c.AllowedConnectors {
		if s.connectors != nil && !slices.Contains(s.connectors, id) {
			return invalid(fmt.Sprintf("allowedConnectors[%d]", i), "unknown connector %q (configured: %s)", id, strings.Join(s.connectors, ", "))
		}
	}
	if c.SigningAlgorithm != "" && s.algorithms != nil && !slices.Contains(s.algorithms, c.SigningAlgorithm) {
		return invalid("signingAlgorithm", "%q is not in keys.algorithms (%s)", c.SigningAlgorithm, strings.Join(s.algorithms, ", "))
	}
	return nil
}

// checkURI checks a redirect, post-logout or back-channel URI with the
// config file's rules (config.CheckRedirectURI).
func checkURI(field, raw string, allowPrivateScheme bool) error {
	if len(raw) > maxURILength || !cleanText(raw) {
		return invalid(field, "must be at most %d bytes, without control characters", maxURILength)
	}
	if msg := config.CheckRedirectURI(raw, allowPrivateScheme); msg != "" {
		return invalid(field, "%s", msg)
	}
	return nil
}
