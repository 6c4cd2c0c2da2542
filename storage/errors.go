package storage

import "errors"

// Sentinel errors. Backends return them (possibly wrapped); callers check with
// errors.Is.
var (
	// ErrNotFound: no such record, or it has expired.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a unique key is taken, or a compare-and-swap lost.
	ErrConflict = errors.New("storage: conflict")
	// ErrAlreadyUsed: a single-use record (authorization code, device code)
	// was already consumed. The record is returned beside it so the caller can
	// revoke what the first use issued.
	ErrAlreadyUsed = errors.New("storage: already used")
	// ErrReuse: a refresh token that was already rotated was presented again
	// outside the grace window; the backend has revoked its whole grant.
	ErrReuse = errors.New("storage: refresh token reuse")
	// ErrRevoked: the grant behind a refresh token was revoked.
	ErrRevoked = errors.New("storage: revoked")
	// ErrUnavailable wraps errors from a backend that cannot be reached, so the
	// gateway can answer 503 / temporarily_unavailable instead of 500.
	ErrUnavailable = errors.New("storage: unavailable")
)
