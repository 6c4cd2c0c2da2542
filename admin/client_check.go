package admin

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

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

// checkURI checks a redirect, post-logout or back-channel URI: absolute,
// without fragment (RFC 6749 §3.1.2), https, or http for a loopback host;
// a public client's native app may use a private-use scheme with a dot in
// it (RFC 8252 §7.1). No wildcards.
func checkURI(field, raw string, allowPrivateScheme bool) error {
	if len(raw) > maxURILength || !cleanText(raw) {
		return invalid(field, "must be at most %d bytes, without control characters", maxURILength)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs():
		return invalid(field, "%q must be an absolute URL", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid(field, "%q must not have a fragment (RFC 6749 §3.1.2)", raw)
	case u.Scheme == "https" || u.Scheme == "http":
		switch {
		case u.Host == "":
			return invalid(field, "%q has no host", raw)
		case strings.Contains(u.Host, "*"):
			return invalid(field, "%q: wildcards are not allowed; list every URI exactly", raw)
		case u.Scheme == "http" && !loopbackHost(u.Hostname()):
			return invalid(field, "%q must use https (http only for 127.0.0.1, ::1 or localhost)", raw)
		}
	case !allowPrivateScheme || !strings.Contains(u.Scheme, "."):
		return invalid(field, "%q must use https (http only for loopback; public native clients may use a private-use scheme such as com.example.app:/callback)", raw)
	}
	return nil
}

// loopbackHost reports whether host (without port or brackets) is
// localhost or a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
