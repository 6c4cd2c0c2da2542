package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/foyerid/foyer/identity"
	"github.com/foyerid/foyer/storage"
)

// redirectAllowed reports whether uri is one of the client's registered
// redirect URIs, compared byte for byte with no decoding or normalisation.
// The one exception is RFC 8252 §7.3: for public clients a registered
// loopback URI (http://127.0.0.1/… or http://[::1]/…) matches the same URI
// with any port.
func redirectAllowed(c storage.Client, uri string) bool {
	if uri == "" {
		return false
	}
	for _, reg := range c.RedirectURIs {
		if reg == uri {
			return true
		}
	}
	if !c.Public {
		return false
	}
	for _, host := range []string{"http://127.0.0.1", "http://[::1]"} {
		rest, ok := strings.CutPrefix(uri, host+":")
		if !ok {
			continue
		}
		// rest is "<port><path...>": the port is 1-5 digits.
		i := 0
		for i < len(rest) && i < 6 && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 5 || (i < len(rest) && rest[i] != '/') {
			continue
		}
		withoutPort := host + rest[i:]
		for _, reg := range c.RedirectURIs {
			if reg == withoutPort {
				return true
			}
			// A registered loopback URI with its own port also matches any port.
			if regRest, ok := strings.CutPrefix(reg, host+":"); ok {
				j := strings.IndexByte(regRest, '/')
				if j > 0 && host+regRest[j:] == withoutPort {
					return true
				}
			}
		}
	}
	return false
}

// connectorAllowed is the one place that decides whether a connector may log
// a person in for a client. Every path (authorize, login, callback, every
// grant) goes through it.
func (s *Server) connectorAllowed(c storage.Client, connectorID string) bool {
	if _, ok := s.connectors[connectorID]; !ok {
		return false
	}
	return len(c.AllowedConnectors) == 0 || slices.Contains(c.AllowedConnectors, connectorID)
}

// allowedConnectors lists the connectors a client may use, in config order.
func (s *Server) allowedConnectors(c storage.Client) []*Connector {
	var out []*Connector
	for _, id := range s.connectorOrder {
		if s.connectorAllowed(c, id) {
			out = append(out, s.connectors[id])
		}
	}
	return out
}

func grantAllowed(c storage.Client, grant string) bool {
	if len(c.GrantTypes) == 0 {
		return grant == grantAuthorizationCode || grant == grantRefreshToken
	}
	return slices.Contains(c.GrantTypes, grant)
}

// pkceRequired: always for public clients, by the client's switch for
// confidential ones (RFC 9700 §2.1.1).
func pkceRequired(c storage.Client) bool { return c.Public || c.RequirePKCE }

// HashClientSecret returns the stored form of a client secret:
// "sha256:" and the unpadded base64url SHA-256. Foyer's generated secrets
// carry 256 bits, so a fast hash keeps the token endpoint fast without
// making a stolen table useful; operators who pick weak secrets can store
// an argon2id hash instead (slower per request).
func HashClientSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// clientSecretOK compares a presented secret with the stored hash in
// constant time.
func clientSecretOK(stored, presented string) bool {
	if stored == "" || presented == "" || len(presented) > 512 {
		return false
	}
	if rest, ok := strings.CutPrefix(stored, "sha256:"); ok {
		want, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil || len(want) != sha256.Size {
			return false
		}
		got := sha256.Sum256([]byte(presented))
		return subtle.ConstantTimeCompare(got[:], want) == 1
	}
	ok, err := identity.CheckPassword(stored, presented)
	return err == nil && ok
}

// validClientID: client ids are printable ASCII without spaces (the config
// format requires it); anything else names no client, and is never sent to
// a store that might refuse the bytes.
func validClientID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// validLogin: a username is valid UTF-8 without control characters; any
// other value cannot name an account.
func validLogin(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
