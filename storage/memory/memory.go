package memory

import (
	"context"
	"sync"
	"time"

	"github.com/foyerid/foyer/storage"
)

// Store is an in-memory storage.Directory and storage.State. The zero value
// is not usable; call New.
type Store struct {
	now func() time.Time

	mu sync.Mutex

	// Directory.
	users      map[string]storage.User
	usernames  map[string]string // username -> user ID
	identities map[identityKey]storage.Identity
	clients    map[string]storage.Client
	connectors map[string]storage.ConnectorConfig
	consents   map[consentKey]storage.Consent
	audit      []storage.AuditEvent
	auditIDs   map[string]bool

	// State.
	authRequests map[string]storage.AuthRequest
	authCodes    map[string]authCode
	grants       map[string]storage.Grant
	refresh      map[string]string   // refresh token hash -> grant ID
	grantTokens  map[string][]string // grant ID -> every token hash it issued
	sessions     map[string]storage.Session
	devices      map[string]storage.DeviceRequest
	userCodes    map[string]string // user code -> device request ID
	replay       map[string]time.Time
	rates        map[rateKey]rateWindow
	keySet       *storage.KeySet
	leases       map[string]lease
}

type identityKey struct{ connectorID, subject string }

type consentKey struct{ userID, clientID string }

type authCode struct {
	code storage.AuthCode
	used bool
}

type rateKey struct {
	key    string
	window time.Duration
}

type rateWindow struct {
	start time.Time
	end   time.Time
	count int64
}

type lease struct {
	holder    string
	expiresAt time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock expiry is judged against (default time.Now). A nil
// clock is ignored.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{
		now:          time.Now,
		users:        map[string]storage.User{},
		usernames:    map[string]string{},
		identities:   map[identityKey]storage.Identity{},
		clients:      map[string]storage.Client{},
		connectors:   map[string]storage.ConnectorConfig{},
		consents:     map[consentKey]storage.Consent{},
		auditIDs:     map[string]bool{},
		authRequests: map[string]storage.AuthRequest{},
		authCodes:    map[string]authCode{},
		grants:       map[string]storage.Grant{},
		refresh:      map[string]string{},
		grantTokens:  map[string][]string{},
		sessions:     map[string]storage.Session{},
		devices:      map[string]storage.DeviceRequest{},
		userCodes:    map[string]string{},
		replay:       map[string]time.Time{},
		rates:        map[rateKey]rateWindow{},
		leases:       map[string]lease{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ping always answers: the store lives in this process.
func (s *Store) Ping(context.Context) error { return nil }

// Close does nothing; the data goes when the Store is garbage collected.
func (s *Store) Close() error { return nil }

// expired reports whether a record expiring at expiresAt is gone at now.
func expired(expiresAt, now time.Time) bool { return !now.Before(expiresAt) }

// expiredIdle is expired for records with an idle and an absolute expiry.
func expiredIdle(idle, absolute, now time.Time) bool {
	return expired(idle, now) || (!absolute.IsZero() && expired(absolute, now))
}

// minTime returns the earlier of t and limit; a zero limit is no limit.
func minTime(t, limit time.Time) time.Time {
	if !limit.IsZero() && limit.Before(t) {
		return limit
	}
	return t
}

// Sweep removes every expired record and returns how many it removed.
func (s *Store) Sweep(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	n := 0
	for id, r := range s.authRequests {
		if expired(r.ExpiresAt, now) {
			delete(s.authRequests, id)
			n++
		}
	}
	for id, c := range s.authCodes {
		if expired(c.code.ExpiresAt, now) {
			delete(s.authCodes, id)
			n++
		}
	}
	for id, g := range s.grants {
		if expiredIdle(g.ExpiresAt, g.AbsoluteExpiresAt, now) {
			s.dropGrant(id)
			n++
		}
	}
	for id, ss := range s.sessions {
		if expiredIdle(ss.ExpiresAt, ss.AbsoluteExpiresAt, now) {
			delete(s.sessions, id)
			n++
		}
	}
	for id, d := range s.devices {
		if expired(d.ExpiresAt, now) {
			s.dropDevice(id)
			n++
		}
	}
	for k, exp := range s.replay {
		if expired(exp, now) {
			delete(s.replay, k)
			n++
		}
	}
	for k, w := range s.rates {
		if expired(w.end, now) {
			delete(s.rates, k)
			n++
		}
	}
	for name, l := range s.leases {
		if expired(l.expiresAt, now) {
			delete(s.leases, name)
			n++
		}
	}
	return n, nil
}

// Interface guards
var (
	_ storage.Directory = (*Store)(nil)
	_ storage.State     = (*Store)(nil)
	_ storage.Sweeper   = (*Store)(nil)
)
