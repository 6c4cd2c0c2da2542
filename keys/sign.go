package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Errors callers branch on.
var (
	// ErrUnsupportedAlgorithm: an algorithm Foyer does not support or this
	// Manager was not configured with.
	ErrUnsupportedAlgorithm = errors.New("keys: unsupported algorithm")
	// ErrNoKey: no key of the algorithm can sign now (Init not called, or
	// the key set is broken).
	ErrNoKey = errors.New("keys: no active signing key")
	// ErrInvalidToken: a token failed Verify. The wrapped detail is for
	// logs, not for clients.
	ErrInvalidToken = errors.New("keys: invalid token")
)

// maxTokenSize bounds the tokens Verify parses.
const maxTokenSize = 64 << 10

// Sign serialises claims as JSON and signs them with the active key of alg
// ("" for the default algorithm), returning a JWS compact serialisation
// whose protected header carries alg, kid and, if typ is not "", typ (for
// example "JWT", "at+jwt" (RFC 9068 §2.1), "logout+jwt" (OIDC Back-Channel
// Logout §2.4); RFC 8725 §3.11). claims may be a json.RawMessage.
func (m *Manager) Sign(alg, typ string, claims any) (string, error) {
	if alg == "" {
		alg = m.opts.Algorithms[0]
	} else if !slices.Contains(m.opts.Algorithms, alg) {
		return "", fmt.Errorf("%w: %q is not configured", ErrUnsupportedAlgorithm, alg)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("keys: encode claims: %w", err)
	}
	k := m.state.Load().active(alg, m.now())
	if k == nil {
		return "", fmt.Errorf("%w for %s", ErrNoKey, alg)
	}
	signer, err := k.mat.signer(typ)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: sign with %s: %w", k.id, err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("keys: serialise: %w", err)
	}
	return out, nil
}

// Verify checks a JWS compact token signed by one of Foyer's published keys
// and returns its payload; the caller checks the claims. It accepts only the
// configured algorithms (never "none", never HMAC), finds the key by kid,
// requires the header alg to be the key's, refuses "crit" headers, and, when
// typ is not "", requires the typ header to equal it, ignoring case and an
// "application/" prefix (RFC 7515 §4.1.9). Every failure wraps
// ErrInvalidToken.
func (m *Manager) Verify(token, typ string) ([]byte, error) {
	if len(token) > maxTokenSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenSize)
	}
	jws, err := jose.ParseSignedCompact(token, m.sigAlgs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrInvalidToken)
	}
	h := jws.Signatures[0].Header
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, fmt.Errorf("%w: critical header parameters are not supported", ErrInvalidToken)
	}
	k := m.state.Load().byID[h.KeyID]
	if k == nil || !k.published(m.now()) {
		return nil, fmt.Errorf("%w: unknown key id", ErrInvalidToken)
	}
	if h.Algorithm != k.alg {
		return nil, fmt.Errorf("%w: algorithm %q does not match key %s", ErrInvalidToken, h.Algorithm, k.id)
	}
	if typ != "" {
		got, _ := h.ExtraHeaders[jose.HeaderType].(string)
		if !sameType(got, typ) {
			return nil, fmt.Errorf("%w: typ %q, want %q", ErrInvalidToken, got, typ)
		}
	}
	payload, err := jws.Verify(k.mat.public)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return payload, nil
}

// sameType compares media types as RFC 7515 §4.1.9 says typ values compare:
// case-insensitively, with "application/" implied when absent.
func sameType(got, want string) bool {
	return strings.EqualFold(trimApplication(got), trimApplication(want))
}

func trimApplication(t string) string {
	const prefix = "application/"
	if len(t) >= len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
		return t[len(prefix):]
	}
	return t
}

// Algorithms returns the configured signing algorithms, the default first.
func (m *Manager) Algorithms() []string { return slices.Clone(m.opts.Algorithms) }

// DefaultAlgorithm returns the algorithm Sign uses when given "".
func (m *Manager) DefaultAlgorithm() string { return m.opts.Algorithms[0] }
