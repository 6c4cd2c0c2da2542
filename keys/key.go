package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyerid/foyer/storage"
)

// Signing algorithms Foyer supports (RFC 7518 §3.1, RFC 8037 §3.1). All are
// asymmetric: Foyer never signs with HMAC and never accepts "none".
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys
	ES256 = "ES256" // ECDSA P-256 with SHA-256
	EdDSA = "EdDSA" // Ed25519
)

// rsaBits is the size of the RSA keys Foyer generates and the minimum it
// accepts.
const rsaBits = 2048

// maxSignersPerKey bounds the per-key cache of signers (one per typ value).
// Foyer uses a handful of typ values; past the bound signers are built per
// call rather than cached, so a caller cannot grow memory without limit.
const maxSignersPerKey = 16

var joseAlgorithms = map[string]jose.SignatureAlgorithm{
	RS256: jose.RS256,
	ES256: jose.ES256,
	EdDSA: jose.EdDSA,
}

// sealAAD is the additional data a private key is sealed with: its key id,
// labelled so that a blob sealed under the same KEK for another purpose can
// never be taken for a signing key.
func sealAAD(kid string) []byte { return []byte("foyer/signing-key/v1:" + kid) }

// material is the parsed, unsealed form of one stored key. It is immutable
// apart from the signer cache and shared between successive key-set
// snapshots, so a reload unseals only keys it has not seen.
type material struct {
	kid     string
	alg     string
	private crypto.Signer
	public  crypto.PublicKey
	jwk     []byte // the public JWK as served in JWKS
	// sealed and stored are the record's bytes, to tell whether a record
	// with the same kid is still the same key.
	sealed []byte
	stored []byte

	signers  sync.Map // typ -> jose.Signer
	nsigners atomic.Int32
}

// same reports whether rec is the record m was parsed from.
func (m *material) same(rec storage.SigningKey) bool {
	return m.kid == rec.ID && m.alg == rec.Algorithm &&
		bytes.Equal(m.sealed, rec.Sealed) && bytes.Equal(m.stored, rec.Public)
}

// signer returns the signer for typ ("" for no typ header), cached.
func (m *material) signer(typ string) (jose.Signer, error) {
	if s, ok := m.signers.Load(typ); ok {
		return s.(jose.Signer), nil
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{
		Algorithm: joseAlgorithms[m.alg],
		Key:       jose.JSONWebKey{Key: m.private, KeyID: m.kid, Algorithm: m.alg},
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: signer: %w", m.kid, err)
	}
	if m.nsigners.Add(1) > maxSignersPerKey {
		m.nsigners.Add(-1)
		return s, nil
	}
	actual, _ := m.signers.LoadOrStore(typ, s)
	return actual.(jose.Signer), nil
}

// generatePrivate makes a new private key for alg.
func generatePrivate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
}

// checkPrivate verifies that priv is a key alg can use.
func checkPrivate(alg string, priv any) (crypto.Signer, error) {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		if alg == RS256 {
			if k.N.BitLen() < rsaBits {
				return nil, fmt.Errorf("RSA key of %d bits is shorter than %d", k.N.BitLen(), rsaBits)
			}
			return k, nil
		}
	case *ecdsa.PrivateKey:
		if alg == ES256 {
			if k.Curve != elliptic.P256() {
				return nil, errors.New("ES256 needs a P-256 key")
			}
			return k, nil
		}
	case ed25519.PrivateKey:
		if alg == EdDSA {
			return k, nil
		}
	}
	return nil, fmt.Errorf("a %T cannot sign %s", priv, alg)
}

// newMaterial derives the public half and its JWK from a private key.
func newMaterial(kid, alg string, priv crypto.Signer) (*material, error) {
	pub := priv.Public()
	jwk, err := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: public JWK: %w", kid, err)
	}
	return &material{kid: kid, alg: alg, private: priv, public: pub, jwk: jwk}, nil
}

// newKey generates a key for alg, seals its private half under kek and
// returns the record to store and its parsed material.
func newKey(kek KEK, alg string, now, signFrom time.Time) (storage.SigningKey, *material, error) {
	priv, err := generatePrivate(alg)
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	kid := storage.NewID()
	mat, err := newMaterial(kid, alg, priv)
	if err != nil {
		return storage.SigningKey{}, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: key %s: encode private key: %w", kid, err)
	}
	sealed, err := Seal(kek, der, sealAAD(kid))
	clear(der)
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: key %s: seal: %w", kid, err)
	}
	mat.sealed, mat.stored = sealed, mat.jwk
	rec := storage.SigningKey{
		ID:        kid,
		Algorithm: alg,
		Public:    mat.jwk,
		Sealed:    sealed,
		CreatedAt: now,
		SignFrom:  signFrom,
	}
	return rec, mat, nil
}

// openKey unseals a stored key and checks it: the private key must suit the
// algorithm and match the stored public key, so a record written by someone
// without the KEK is refused rather than published.
func openKey(kek KEK, rec storage.SigningKey) (*material, error) {
	if _, ok := joseAlgorithms[rec.Algorithm]; !ok {
		return nil, fmt.Errorf("keys: key %s: %w: %q", rec.ID, ErrUnsupportedAlgorithm, rec.Algorithm)
	}
	der, err := Open(kek, rec.Sealed, sealAAD(rec.ID))
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", rec.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: decode private key: %w", rec.ID, err)
	}
	priv, err := checkPrivate(rec.Algorithm, parsed)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", rec.ID, err)
	}
	mat, err := newMaterial(rec.ID, rec.Algorithm, priv)
	if err != nil {
		return nil, err
	}
	var stored jose.JSONWebKey
	if err := stored.UnmarshalJSON(rec.Public); err != nil {
		return nil, fmt.Errorf("keys: key %s: stored public key: %w", rec.ID, err)
	}
	eq, ok := mat.public.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !stored.IsPublic() || stored.KeyID != rec.ID ||
		(stored.Algorithm != "" && stored.Algorithm != rec.Algorithm) || !eq.Equal(stored.Key) {
		return nil, fmt.Errorf("keys: key %s: stored public key does not match the sealed private key", rec.ID)
	}
	mat.sealed, mat.stored = rec.Sealed, rec.Public
	return mat, nil
}

// key is one loaded key in a snapshot: the record's schedule and its
// material.
type key struct {
	id        string
	alg       string
	createdAt time.Time
	signFrom  time.Time
	removeAt  time.Time
	mat       *material
}

// published reports whether the key is served in JWKS and accepted at now.
func (k *key) published(now time.Time) bool {
	return k.removeAt.IsZero() || now.Before(k.removeAt)
}

// removed reports whether a stored record's time is up at now.
func removed(rec storage.SigningKey, now time.Time) bool {
	return !rec.RemoveAt.IsZero() && !now.Before(rec.RemoveAt)
}

// newer orders keys of one algorithm: the later SignFrom wins, then the later
// CreatedAt, then the greater id, so every worker picks the same active key.
func newer(aFrom, aCreated time.Time, aID string, bFrom, bCreated time.Time, bID string) bool {
	if !aFrom.Equal(bFrom) {
		return aFrom.After(bFrom)
	}
	if !aCreated.Equal(bCreated) {
		return aCreated.After(bCreated)
	}
	return aID > bID
}
