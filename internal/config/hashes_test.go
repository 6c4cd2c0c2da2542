package config

import (
	"errors"
	"strings"
	"testing"
)

func TestRegistryPasswordHashCheck(t *testing.T) {
	const file = `issuer: https://id.example.com
keys: {kek: {file: /etc/foyer/kek}}
clients:
  - id: app
    secretHash: "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
    redirectURIs: [https://app.example.com/cb]
  - id: other
    secretHash: "sha256:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    redirectURIs: [https://other.example.com/cb]
users:
  - username: good
    passwordHash: "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
  - username: planted
    passwordHash: "$2b$31$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
`
	var seen []string
	reg := Registry{PasswordHash: func(h string) error {
		seen = append(seen, h[:7])
		if strings.HasPrefix(h, "$2b$31$") {
			return errors.New("cost too high")
		}
		return nil
	}}
	_, err := Parse([]byte(file), "foyer.yaml", nil, reg)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	if p := ps[0]; p.Path != "users[1].passwordHash" || p.Line != 14 || !strings.Contains(p.Msg, "cost too high") {
		t.Errorf("problem %+v", p)
	}
	if len(seen) != 3 { // the sha256: secret hash has no parameters to check
		t.Errorf("checked %d hashes (%v), want 3", len(seen), seen)
	}
	// Without the hook, only the shape is checked.
	if _, err := Parse([]byte(file), "foyer.yaml", nil, Registry{}); err != nil {
		t.Errorf("without a hash check: %v", err)
	}
}
