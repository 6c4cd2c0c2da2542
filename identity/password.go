package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are argon2id parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams follow RFC 9106's second recommended option (64 MiB,
// three passes) with four lanes.
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 4}

// Upper bounds on the argon2id parameters Foyer computes.
const (
	maxArgonMemory  = 256 * 1024 // KiB
	maxArgonTime    = 10
	maxArgonThreads = 16
)

// maxPasswordLen bounds the work an attacker can ask of argon2 per attempt.
const maxPasswordLen = 1024

// maxBcryptCost refuses planted bcrypt hashes whose cost (2^cost rounds,
// up to 31: about a day) would exhaust the machine; 16 takes seconds.
const maxBcryptCost = 16

// ErrBadHash: a stored hash is in no format Foyer reads.
var ErrBadHash = errors.New("identity: unrecognised password hash")

// HashPassword hashes a password with argon2id and DefaultParams, in the
// PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func HashPassword(password string) (string, error) {
	return HashPasswordWith(password, DefaultParams)
}

// HashPasswordWith hashes with the given parameters.
func HashPasswordWith(password string, p Params) (string, error) {
	if len(password) > maxPasswordLen {
		return "", fmt.Errorf("identity: password longer than %d bytes", maxPasswordLen)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("identity: salt: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// CheckPassword reports whether password matches hash (argon2id or bcrypt).
// The comparison is constant-time. A hash Foyer cannot read is ErrBadHash.
func CheckPassword(hash, password string) (bool, error) {
	if len(password) > maxPasswordLen {
		// Still spend the work, so length does not show in the timing.
		_, _ = checkArgon(dummyHash(), "x")
		return false, nil
	}
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return checkArgon(hash, password)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		if cost, err := bcrypt.Cost([]byte(hash)); err == nil && cost > maxBcryptCost {
			return false, fmt.Errorf("%w: bcrypt cost %d above %d", ErrBadHash, cost, maxBcryptCost)
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, fmt.Errorf("%w: bcrypt: %v", ErrBadHash, err)
		}
	default:
		return false, ErrBadHash
	}
}

// dummyHash is checked when the user is unknown, so an unknown user costs
// the same as a wrong password. It is the hash of a random password.
// It is made on first use, not at start-up.
var dummyHash = sync.OnceValue(func() string {
	h, err := HashPasswordWith(randomString(), DefaultParams)
	if err != nil {
		panic(err) // cannot happen: the password is short
	}
	return h
})

// DummyCheck spends the time of one password check against DefaultParams
// and always reports false. Call it when the user is unknown.
func DummyCheck(password string) {
	_, _ = checkArgon(dummyHash(), password)
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

func checkArgon(hash, password string) (bool, error) {
	p, salt, want, err := parseArgon(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parseArgon reads a PHC argon2id string and refuses parameters that would
// let a planted hash exhaust the machine.
func parseArgon(hash string) (Params, []byte, []byte, error) {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrBadHash
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id version", ErrBadHash)
	}
	var p Params
	_, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads)
	// Parse strictly: the parameters must read back exactly as written.
	if err != nil || parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id parameters", ErrBadHash)
	}
	// Bounds keep a planted hash from exhausting the worker: at most
	// 256 MiB, 10 passes and 16 lanes per check.
	if p.Memory < 8 || p.Memory > maxArgonMemory || p.Time < 1 || p.Time > maxArgonTime || p.Threads < 1 || p.Threads > maxArgonThreads {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id parameters out of range", ErrBadHash)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id salt", ErrBadHash)
	}
	sum, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(sum) < 16 || len(sum) > 64 {
		return Params{}, nil, nil, fmt.Errorf("%w: argon2id hash", ErrBadHash)
	}
	return p, salt, sum, nil
}

// ValidHash reports whether hash is in a format CheckPassword reads.
func ValidHash(hash string) bool {
	if strings.HasPrefix(hash, "$argon2id$") {
		_, _, _, err := parseArgon(hash)
		return err == nil
	}
	if strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$") {
		cost, err := bcrypt.Cost([]byte(hash))
		return err == nil && cost <= maxBcryptCost
	}
	return false
}

// CheckHash reports why a hash is not one CheckPassword can use (an unknown
// format, or parameters out of Foyer's bounds), or nil.
func CheckHash(hash string) error {
	if strings.HasPrefix(hash, "$argon2id$") {
		_, _, _, err := parseArgon(hash)
		return err
	}
	if ValidHash(hash) {
		return nil
	}
	return ErrBadHash
}
