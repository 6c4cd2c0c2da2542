package gateway

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// A rotated refresh token's successor is kept sealed under a key derived
// from the rotated token itself. Only someone presenting that token again
// (a client retrying a lost response, within the grace window) can open
// it, and a copy of the store holds neither token in clear.

const successorInfo = "foyer refresh successor v1"

func successorKey(presented string) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(presented), nil, successorInfo, 32)
}

func sealSuccessor(presented, successor string) ([]byte, error) {
	key, err := successorKey(presented)
	if err != nil {
		return nil, fmt.Errorf("gateway: successor key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, []byte(successor), nil), nil
}

func openSuccessor(presented string, sealed []byte) (string, error) {
	key, err := successorKey(presented)
	if err != nil {
		return "", fmt.Errorf("gateway: successor key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	if len(sealed) < gcm.NonceSize() {
		return "", errors.New("gateway: sealed successor too short")
	}
	out, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("gateway: open successor: %w", err)
	}
	return string(out), nil
}
