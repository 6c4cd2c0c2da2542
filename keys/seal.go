package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// KEKSize is the size of a key-encryption key in bytes (AES-256).
const KEKSize = 32

// maxKEKFileSize bounds how much of a KEK file is read: a valid one holds at
// most 64 hex characters and some whitespace.
const maxKEKFileSize = 4096

// sealVersion is the first byte of every sealed blob: the format (AES-256-GCM,
// random 96-bit nonce, nonce‖ciphertext‖tag) so the format can change later
// without guessing.
const sealVersion byte = 1

// ErrUnseal reports that sealed data did not open: the key-encryption key is
// not the one it was sealed with, or the data (or its additional data) was
// altered. The two cannot be told apart, by design.
var ErrUnseal = errors.New("keys: cannot open sealed data: wrong key-encryption key or altered data")

const redacted = "[REDACTED]"

// KEK is a 32-byte key-encryption key: it seals the signing keys' private
// halves in the store. The zero value is "not set" and seals nothing. It
// redacts itself when formatted, logged or marshalled to JSON.
type KEK struct {
	k   [KEKSize]byte
	set bool
}

// String returns a redacted placeholder, never the key.
func (KEK) String() string { return redacted }

// GoString returns a redacted placeholder, never the key.
func (KEK) GoString() string { return "keys.KEK(" + redacted + ")" }

// Format writes a redacted placeholder for every verb, so %x or %d cannot
// leak the key either.
func (KEK) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer: the key never reaches a log.
func (KEK) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON writes a redacted placeholder, never the key.
func (KEK) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Encode returns the key in clear, as padded standard base64 that ParseKEK
// accepts. It exists so that development mode can keep a generated key;
// whatever holds the result must be protected like the key itself.
func (k KEK) Encode() string { return base64.StdEncoding.EncodeToString(k.k[:]) }

// GenerateKEK returns a new random key-encryption key, for development mode
// and for `foyer keys` to print one.
func GenerateKEK() KEK {
	var k KEK
	// crypto/rand.Read never returns an error on supported platforms.
	_, _ = rand.Read(k.k[:])
	k.set = true
	return k
}

// ParseKEK decodes a key-encryption key: after trimming surrounding
// whitespace, either base64 (standard or URL alphabet, padded or not) of
// exactly 32 bytes, or exactly 64 hexadecimal characters. Errors never repeat
// the input.
func ParseKEK(b []byte) (KEK, error) {
	s := bytes.TrimSpace(b)
	if len(s) == 0 {
		return KEK{}, errors.New("keys: key-encryption key is empty")
	}
	var k KEK
	decoded := false
	if len(s) == 2*KEKSize {
		if n, err := hex.Decode(k.k[:], s); err == nil && n == KEKSize {
			decoded = true
		}
	}
	if !decoded {
		for _, enc := range []*base64.Encoding{
			base64.StdEncoding, base64.RawStdEncoding,
			base64.URLEncoding, base64.RawURLEncoding,
		} {
			if enc.DecodedLen(len(s)) < KEKSize || enc.DecodedLen(len(s)) > KEKSize+2 {
				continue
			}
			buf := make([]byte, enc.DecodedLen(len(s)))
			n, err := enc.Decode(buf, s)
			if err == nil && n == KEKSize {
				copy(k.k[:], buf[:n])
				clear(buf)
				decoded = true
				break
			}
			clear(buf)
		}
	}
	if !decoded {
		return KEK{}, fmt.Errorf("keys: key-encryption key must be 32 bytes as base64 or 64 hex characters (got %d characters that are neither)", len(s))
	}
	var zero [KEKSize]byte
	if subtle.ConstantTimeCompare(k.k[:], zero[:]) == 1 {
		return KEK{}, errors.New("keys: key-encryption key is all zeros")
	}
	k.set = true
	return k, nil
}

// LoadKEK reads the key-encryption key from a file or from an environment
// variable: exactly one of file (a path) and env (the name of the variable,
// not its value) must be set. The content is parsed by ParseKEK.
//
// LoadKEK does not refuse a file that its group or others can read, because
// common secret mounts (Kubernetes secret volumes default to 0644 inside a
// container) are laid out that way. Callers should call CheckKEKFile and log
// its error as a warning. LoadKEK fails only if the key cannot be read or
// parsed.
func LoadKEK(file, env string) (KEK, error) {
	switch {
	case file != "" && env != "":
		return KEK{}, errors.New("keys: set either a key-encryption key file or an environment variable, not both")
	case file == "" && env == "":
		return KEK{}, errors.New("keys: no key-encryption key: set a key file or an environment variable")
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return KEK{}, fmt.Errorf("keys: environment variable %s is not set", env)
		}
		k, err := ParseKEK([]byte(v))
		if err != nil {
			return KEK{}, fmt.Errorf("keys: environment variable %s: %w", env, err)
		}
		return k, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return KEK{}, fmt.Errorf("keys: key-encryption key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKEKFileSize+1))
	defer clear(b)
	if err != nil {
		return KEK{}, fmt.Errorf("keys: key-encryption key file %s: %w", file, err)
	}
	if len(b) > maxKEKFileSize {
		return KEK{}, fmt.Errorf("keys: key-encryption key file %s: larger than %d bytes", file, maxKEKFileSize)
	}
	k, err := ParseKEK(b)
	if err != nil {
		return KEK{}, fmt.Errorf("keys: key-encryption key file %s: %w", file, err)
	}
	return k, nil
}

// CheckKEKFile reports, as an error meant to be logged as a warning, a
// key-encryption key file that its group or others may read. It returns nil
// when the file is private to its owner, and the stat error if it cannot
// tell.
func CheckKEKFile(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("keys: key-encryption key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("keys: key-encryption key file %s is accessible to group or others (mode %04o); make it 0400 or 0600", file, perm)
	}
	return nil
}

// Seal encrypts plaintext under kek with AES-256-GCM and a random 96-bit
// nonce. aad is authenticated but not stored: Open needs the same aad. The
// result is a version byte followed by the nonce, the ciphertext and the tag;
// the version byte is authenticated too.
func Seal(kek KEK, plaintext, aad []byte) ([]byte, error) {
	aead, err := kek.aead()
	if err != nil {
		return nil, err
	}
	ad := versionedAAD(aad)
	out := make([]byte, 1, 1+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	return aead.Seal(out, nil, plaintext, ad), nil
}

// Open decrypts what Seal produced with the same kek and aad. Any mismatch —
// another key, other additional data, altered bytes, an unknown version —
// is ErrUnseal.
func Open(kek KEK, sealed, aad []byte) ([]byte, error) {
	aead, err := kek.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+aead.Overhead() {
		return nil, fmt.Errorf("%w (too short)", ErrUnseal)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w (unknown format version %d)", ErrUnseal, sealed[0])
	}
	pt, err := aead.Open(nil, nil, sealed[1:], versionedAAD(aad))
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}

func (k KEK) aead() (cipher.AEAD, error) {
	if !k.set {
		return nil, errors.New("keys: key-encryption key is not set")
	}
	block, err := aes.NewCipher(k.k[:])
	if err != nil {
		return nil, fmt.Errorf("keys: aes: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("keys: gcm: %w", err)
	}
	return aead, nil
}

func versionedAAD(aad []byte) []byte {
	ad := make([]byte, 0, 1+len(aad))
	ad = append(ad, sealVersion)
	return append(ad, aad...)
}

// Derive returns a 32-byte key for one purpose, derived from the KEK with
// HKDF-SHA256, so that every worker holding the KEK agrees on it and nothing
// more has to be stored or distributed (the gateway's flow HMAC key, the
// dev-mode demo secret). Different purposes give unrelated keys.
func (k KEK) Derive(purpose string) []byte {
	out, err := hkdf.Key(sha256.New, k.k[:], nil, "foyer/derive/v1:"+purpose, 32)
	if err != nil {
		panic("keys: hkdf: " + err.Error()) // cannot happen for a 32-byte output
	}
	return out
}
