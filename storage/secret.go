package storage

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// HashSecret returns the key under which a bearer secret is stored: the
// unpadded base64url SHA-256 of the secret. Secrets Foyer mints carry at least
// 256 bits of entropy (NewSecret), so an unsalted fast hash is enough to make a
// copy of the store useless while keeping lookups a single indexed read.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewSecret returns a fresh random secret of 32 bytes, base64url encoded.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics
		// inside Read instead of returning an error).
		panic("storage: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewID returns a random identifier of 16 bytes, base64url encoded. IDs are
// not secrets; they only need to be unique.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("storage: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
