package gateway

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Connector data (an upstream refresh or access token, say) is sealed with
// AES-256-GCM under a key derived from the key-encryption key before it
// reaches the store, with the connector id as additional data, so a copy
// of the store yields no upstream credential.

const sealVersion = 1

func (s *Server) sealData(connectorID string, plain []byte) ([]byte, error) {
	if len(plain) == 0 {
		return nil, nil
	}
	gcm, err := s.dataAEAD()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+gcm.NonceSize(), 1+gcm.NonceSize()+len(plain)+gcm.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return gcm.Seal(out, out[1:1+gcm.NonceSize()], plain, []byte(connectorID)), nil
}

func (s *Server) openData(connectorID string, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	gcm, err := s.dataAEAD()
	if err != nil {
		return nil, err
	}
	if sealed[0] != sealVersion || len(sealed) < 1+gcm.NonceSize()+gcm.Overhead() {
		return nil, errors.New("gateway: sealed connector data: unknown format")
	}
	n := gcm.NonceSize()
	plain, err := gcm.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(connectorID))
	if err != nil {
		return nil, fmt.Errorf("gateway: open connector data: %w", err)
	}
	return plain, nil
}

func (s *Server) dataAEAD() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.dataKey)
	if err != nil {
		return nil, fmt.Errorf("gateway: data key: %w", err)
	}
	return cipher.NewGCM(block)
}
