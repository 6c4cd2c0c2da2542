package config

import (
	"encoding/base64"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// connectorID is the form of a connector id: it appears in URLs.
var connectorID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// connectors checks the connector list and returns the ids a client may
// name: the listed ones, or "local" when none are listed (the server adds it).
func (k *checker) connectors(cs []Connector) []string {
	if len(cs) == 0 {
		return []string{"local"}
	}
	ids := make([]string, 0, len(cs))
	first := map[string]int{}
	for i, c := range cs {
		path := indexPath("connectors", i)
		switch j, dup := first[c.ID]; {
		case c.ID == "":
			k.add(path+".id", "required")
		case !connectorID.MatchString(c.ID):
			k.add(path+".id", "%q must match ^[a-z0-9][a-z0-9_-]{0,62}$ (it appears in URLs)", c.ID)
		case dup:
			k.add(path+".id", "%q is already used by connectors[%d]", c.ID, j)
		default:
			first[c.ID] = i
			ids = append(ids, c.ID)
		}
		if c.Type == "" {
			k.add(path+".type", "required")
		}
		if c.Signup != "" && c.Signup != SignupAllow && c.Signup != SignupDeny {
			k.add(path+".signup", "%q is not one of allow, deny", c.Signup)
		}
	}
	return ids
}

// Signup policies of a connector.
const (
	SignupAllow = "allow"
	SignupDeny  = "deny"
)

var grantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantPassword, GrantDeviceCode}

func (k *checker) clients(cs []Client, connectorIDs, algorithms []string) {
	first := map[string]int{}
	for i, c := range cs {
		path := indexPath("clients", i)
		switch j, dup := first[c.ID]; {
		case c.ID == "":
			k.add(path+".id", "required")
		case !printableNoSpace(c.ID):
			k.add(path+".id", "%q must be printable ASCII without spaces", c.ID)
		case dup:
			k.add(path+".id", "%q is already used by clients[%d]", c.ID, j)
		default:
			first[c.ID] = i
		}
		k.clientSecret(path, c)
		for j, g := range c.GrantTypes {
			gp := indexPath(path+".grantTypes", j)
			if k.oneOf(gp, g, grantTypes...) && slices.Index(c.GrantTypes, g) < j {
				k.add(gp, "%s is listed twice", g)
			}
		}
		if slices.Contains(c.GrantTypes, GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
			k.add(path+".redirectURIs", "at least one is required for the authorization_code grant")
		}
		for j, u := range c.RedirectURIs {
			k.uri(indexPath(path+".redirectURIs", j), u, c.Public)
		}
		for j, u := range c.PostLogoutRedirectURIs {
			k.uri(indexPath(path+".postLogoutRedirectURIs", j), u, c.Public)
		}
		if c.BackchannelLogoutURI != "" {
			k.uri(path+".backchannelLogoutURI", c.BackchannelLogoutURI, false)
		}
		for j, id := range c.AllowedConnectors {
			if !slices.Contains(connectorIDs, id) {
				k.add(indexPath(path+".allowedConnectors", j), "unknown connector %q%s", id, didYouMean(id, connectorIDs))
			}
		}
		if c.Public && c.RequirePKCE != nil && !*c.RequirePKCE {
			k.add(path+".requirePKCE", "public clients always use PKCE (RFC 9700 §2.1.1); remove requirePKCE: false")
		}
		if c.SigningAlgorithm != "" && !slices.Contains(algorithms, c.SigningAlgorithm) {
			k.add(path+".signingAlgorithm", "%q is not in keys.algorithms (%s)", c.SigningAlgorithm, strings.Join(algorithms, ", "))
		}
	}
}

// clientSecret checks the secret rules. It never quotes a secret.
func (k *checker) clientSecret(path string, c Client) {
	switch {
	case c.Public && c.Secret != "":
		k.add(path+".secret", "public clients have no secret")
	case c.Public && c.SecretHash != "":
		k.add(path+".secretHash", "public clients have no secret")
	case c.Public:
	case c.Secret == "" && c.SecretHash == "":
		k.add(path+".secret", "required for a confidential client: set secret or secretHash (or public: true)")
	case c.Secret != "" && c.SecretHash != "":
		k.add(path+".secretHash", "set secret or secretHash, not both")
	case c.SecretHash != "" && !validSHA256Hash(c.SecretHash) && !validPasswordHash(c.SecretHash):
		k.add(path+".secretHash", "must be sha256:<base64url>, an argon2id ($argon2id$...) or a bcrypt ($2b$...) hash")
	}
}

// uri checks a redirect, post-logout or back-channel URI. Private-use
// schemes (RFC 8252 §7.1: a reversed domain name such as com.example.app)
// are allowed for public clients' native apps.
func (k *checker) uri(path, raw string, allowPrivateScheme bool) {
	if msg := CheckRedirectURI(raw, allowPrivateScheme); msg != "" {
		k.add(path, "%s", msg)
	}
}

// CheckRedirectURI checks a redirect, post-logout or back-channel URI and
// says what is wrong with it, or "": absolute, no fragment (RFC 6749
// §3.1.2), https or loopback http, no wildcards; with allowPrivateScheme (a
// public native client) a private-use scheme with a dot (RFC 8252 §7.1).
// The admin API checks clients with the same rules.
func CheckRedirectURI(raw string, allowPrivateScheme bool) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs():
		return fmt.Sprintf("%q must be an absolute URL", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Sprintf("%q must not have a fragment (RFC 6749 §3.1.2)", raw)
	case u.Scheme == "https" || u.Scheme == "http":
		switch {
		case u.Host == "":
			return fmt.Sprintf("%q has no host", raw)
		case strings.Contains(u.Host, "*"):
			return fmt.Sprintf("%q: wildcards are not allowed; list every URI exactly", raw)
		case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
			return fmt.Sprintf("%q must use https (http only for 127.0.0.1, ::1 or localhost)", raw)
		}
	case !allowPrivateScheme || !strings.Contains(u.Scheme, "."):
		return fmt.Sprintf("%q must use https (http only for loopback; public native clients may use a private-use scheme such as com.example.app:/callback)", raw)
	}
	return ""
}

func (k *checker) users(us []User) {
	usernames, emails := map[string]int{}, map[string]int{}
	for i, u := range us {
		path := indexPath("users", i)
		if u.Username == "" && u.Email == "" {
			k.add(path, "username or email is required")
		}
		if u.Username != "" {
			key := strings.ToLower(u.Username)
			if j, dup := usernames[key]; dup {
				k.add(path+".username", "%q is already used by users[%d]", u.Username, j)
			} else {
				usernames[key] = i
			}
			if strings.TrimSpace(u.Username) != u.Username || !printable(u.Username) {
				k.add(path+".username", "%q must not have control characters or surrounding spaces", u.Username)
			}
		}
		if u.Email != "" {
			key := strings.ToLower(u.Email)
			if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
				k.add(path+".email", "%q is not an email address", u.Email)
			} else if j, dup := emails[key]; dup {
				k.add(path+".email", "%q is already used by users[%d]", u.Email, j)
			} else {
				emails[key] = i
			}
		}
		switch {
		case u.PasswordHash == "":
			k.add(path+".passwordHash", "required")
		case !validPasswordHash(u.PasswordHash):
			k.add(path+".passwordHash", "must be an argon2id ($argon2id$v=19$m=...,t=...,p=...$salt$hash) or bcrypt ($2a$, $2b$, $2y$) hash")
		}
		for j, g := range u.Groups {
			if strings.TrimSpace(g) == "" {
				k.add(indexPath(path+".groups", j), "must not be empty")
			}
		}
	}
}

// printableNoSpace reports whether s is printable ASCII without spaces.
func printableNoSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// printable reports whether s has no control characters.
func printable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

// validPasswordHash checks the shape (not the value) of an argon2id hash in
// the PHC string format or a bcrypt hash.
func validPasswordHash(h string) bool {
	if strings.HasPrefix(h, "$argon2id$") {
		parts := strings.Split(h, "$")
		if len(parts) != 6 || !strings.HasPrefix(parts[2], "v=") {
			return false
		}
		for _, p := range []string{"m=", "t=", "p="} {
			if !strings.Contains(parts[3], p) {
				return false
			}
		}
		return validB64(parts[4]) && validB64(parts[5])
	}
	// bcrypt: $2b$10$ then 53 characters of salt and hash.
	if len(h) != 60 || h[0] != '$' || h[1] != '2' || !strings.ContainsRune("aby", rune(h[2])) || h[3] != '$' || h[6] != '$' {
		return false
	}
	if h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' {
		return false
	}
	for i := 7; i < len(h); i++ {
		c := h[i]
		if !(c == '.' || c == '/' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func validB64(s string) bool {
	_, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	return s != "" && err == nil
}

// validSHA256Hash checks "sha256:" followed by the base64url SHA-256 of the
// secret (padding optional).
func validSHA256Hash(h string) bool {
	rest, ok := strings.CutPrefix(h, "sha256:")
	if !ok {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(rest, "="))
	return err == nil && len(b) == 32
}
