package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyerid/foyer/storage"
)

// Store is what the Manager needs from the store: the key set and the
// rotation lease.
type Store interface {
	storage.Keys
	storage.Leases
}

// LeaseName is the name of the lease that the worker rotating keys holds.
const LeaseName = "keys"

// maxSwapAttempts bounds how often Init and Rotate retry a lost
// compare-and-swap before giving up.
const maxSwapAttempts = 5

// Options configure a Manager. Zero values take the documented defaults.
type Options struct {
	// Algorithms lists the signing algorithms (RS256, ES256, EdDSA); the
	// first is the default. Default [RS256].
	Algorithms []string
	// RotationPeriod is how long a key is the active key. Default 6h; it
	// must be longer than PublishAhead.
	RotationPeriod time.Duration
	// JWKSMaxAge is the Cache-Control max-age the gateway sends with JWKS.
	// Default 5m.
	JWKSMaxAge time.Duration
	// PublishAhead is how long a new key is published before it signs.
	// Default 2×JWKSMaxAge + 1m; it must exceed JWKSMaxAge + ReloadInterval.
	PublishAhead time.Duration
	// TokenLifetime is the longest lifetime of anything a key signs: a
	// retired key stays published this long (plus JWKSMaxAge) after its
	// last signature. Default 24h; set it to the longest token lifetime.
	TokenLifetime time.Duration
	// ReloadInterval is how often Run reloads the key set. Default 5s. The
	// lease lasts three intervals.
	ReloadInterval time.Duration
	// Holder identifies this worker as a lease holder. Default random.
	Holder string
	// Passive workers only reload: Run never takes the lease, so they never
	// rotate or prune (for end-user workers in a deployment whose
	// housekeeping role does that). Init still creates a missing first
	// key, since nothing can be served without one.
	Passive bool
	// Clock is the time source. Default time.Now.
	Clock func() time.Time
	// Logger receives rotation events and reload failures. Default: none.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Algorithms) == 0 {
		o.Algorithms = []string{RS256}
	}
	o.Algorithms = slices.Clone(o.Algorithms)
	for i, alg := range o.Algorithms {
		if _, ok := joseAlgorithms[alg]; !ok {
			return o, fmt.Errorf("keys: %w: %q (want RS256, ES256 or EdDSA)", ErrUnsupportedAlgorithm, alg)
		}
		if slices.Index(o.Algorithms, alg) != i {
			return o, fmt.Errorf("keys: algorithm %s listed twice", alg)
		}
	}
	if o.RotationPeriod == 0 {
		o.RotationPeriod = 6 * time.Hour
	}
	if o.JWKSMaxAge == 0 {
		o.JWKSMaxAge = 5 * time.Minute
	}
	if o.PublishAhead == 0 {
		o.PublishAhead = 2*o.JWKSMaxAge + time.Minute
	}
	if o.TokenLifetime == 0 {
		o.TokenLifetime = 24 * time.Hour
	}
	if o.ReloadInterval == 0 {
		o.ReloadInterval = 5 * time.Second
	}
	if o.Holder == "" {
		o.Holder = storage.NewID()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.JWKSMaxAge < 0, o.TokenLifetime < 0, o.ReloadInterval < 0, o.RotationPeriod < 0:
		return o, errors.New("keys: durations must not be negative")
	case o.PublishAhead <= o.JWKSMaxAge+o.ReloadInterval:
		return o, fmt.Errorf("keys: publish-ahead %s must exceed the JWKS max-age %s plus the reload interval %s, or relying parties could meet a key before their cached JWKS has it",
			o.PublishAhead, o.JWKSMaxAge, o.ReloadInterval)
	case o.RotationPeriod <= o.PublishAhead:
		return o, fmt.Errorf("keys: rotation period %s must exceed publish-ahead %s", o.RotationPeriod, o.PublishAhead)
	}
	return o, nil
}

// Manager holds the signing keys of one worker: it loads and unseals the key
// set, rotates it while it holds the lease, signs, verifies and serves JWKS.
// It is safe for concurrent use.
type Manager struct {
	store   Store
	kek     KEK
	opts    Options
	sigAlgs []jose.SignatureAlgorithm
	now     func() time.Time
	log     *slog.Logger
	// wait pauses Init while another worker creates the first keys.
	wait func(ctx context.Context, d time.Duration) error

	state    atomic.Pointer[state]
	loadedAt atomic.Int64 // unix nanoseconds of the last successful reload

	jwks   atomic.Pointer[jwksDoc]
	jwksMu sync.Mutex

	// mu serialises reloads and writes, and guards cache.
	mu    sync.Mutex
	cache map[string]*material // by kid
}

// NewManager returns a Manager over store, sealing with kek. It does no I/O:
// call Init before serving and Run for the life of the worker.
func NewManager(store Store, kek KEK, opts Options) (*Manager, error) {
	if store == nil {
		return nil, errors.New("keys: no store")
	}
	if !kek.set {
		return nil, errors.New("keys: key-encryption key is not set")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Manager{
		store: store,
		kek:   kek,
		opts:  o,
		now:   o.Clock,
		log:   o.Logger,
		wait:  sleepCtx,
		cache: map[string]*material{},
	}
	for _, alg := range o.Algorithms {
		m.sigAlgs = append(m.sigAlgs, joseAlgorithms[alg])
	}
	m.state.Store(&state{byID: map[string]*key{}, byAlg: map[string][]*key{}})
	return m, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (m *Manager) leaseTTL() time.Duration { return 3 * m.opts.ReloadInterval }

// Init loads the key set and, for every configured algorithm with no key,
// creates one that signs at once (no relying party can have cached anything
// for it yet). On an empty store it does so under the "keys" lease, waiting
// for a worker that holds it, so a fleet starting together makes one key set.
func (m *Manager) Init(ctx context.Context) error {
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		if err := m.Reload(ctx); err != nil {
			return err
		}
		st := m.state.Load()
		if len(m.missing(st, m.now())) == 0 {
			return nil
		}
		if attempt >= maxSwapAttempts {
			return fmt.Errorf("keys: init: gave up after %d attempts: %w", attempt, storage.ErrConflict)
		}
		got, err := m.store.AcquireLease(ctx, LeaseName, m.opts.Holder, m.leaseTTL())
		if err != nil {
			return fmt.Errorf("keys: acquire lease: %w", err)
		}
		// Another worker holds the lease on an empty store: it is most
		// likely creating the first keys. Wait for them, up to a lease's
		// lifetime, then go ahead (the compare-and-swap keeps us safe).
		if !got && st.version == 0 && waited < m.leaseTTL() {
			step := m.opts.ReloadInterval / 2
			if err := m.wait(ctx, step); err != nil {
				return fmt.Errorf("keys: init: %w", err)
			}
			waited += step
			attempt--
			continue
		}
		err = m.update(ctx, modeInit)
		if got {
			m.release(ctx)
		}
		if err != nil && !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
}

// Run keeps the key set current until ctx ends: every ReloadInterval it
// reloads and, if it holds (or can take) the "keys" lease, rotates when a
// rotation is due and prunes removed keys. Every worker runs it. It returns
// nil when ctx ends, after releasing the lease.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.opts.ReloadInterval)
	defer t.Stop()
	if !m.opts.Passive {
		defer m.release(ctx)
	}
	for {
		if err := m.tick(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("keys: maintain key set", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tick is one round of Run.
func (m *Manager) tick(ctx context.Context) error {
	if err := m.Reload(ctx); err != nil {
		return err
	}
	if m.opts.Passive {
		return nil
	}
	got, err := m.store.AcquireLease(ctx, LeaseName, m.opts.Holder, m.leaseTTL())
	if err != nil {
		return fmt.Errorf("keys: acquire lease: %w", err)
	}
	if !got {
		return nil
	}
	err = m.update(ctx, modeTick)
	if errors.Is(err, storage.ErrConflict) {
		return nil // someone else wrote (keys rotate); the next round sees it
	}
	return err
}

func (m *Manager) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := m.store.ReleaseLease(ctx, LeaseName, m.opts.Holder); err != nil {
		m.log.Warn("keys: release lease", "err", err)
	}
}

// Rotate starts a rotation now for every configured algorithm, for
// `foyer keys rotate`: a new key is published at once and signs from
// now+PublishAhead, and the current key retires as after a scheduled
// rotation. An algorithm that already has a key waiting to sign is left
// alone, since that key takes over within PublishAhead anyway. Rotate does
// not need the lease; it retries a lost compare-and-swap.
func (m *Manager) Rotate(ctx context.Context) error {
	for range maxSwapAttempts {
		if err := m.Reload(ctx); err != nil {
			return err
		}
		err := m.update(ctx, modeForce)
		if !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("keys: rotate: gave up after %d attempts: %w", maxSwapAttempts, storage.ErrConflict)
}

type planMode int

const (
	modeInit  planMode = iota // create missing keys, signing at once
	modeTick                  // scheduled rotation, pruning, restoring
	modeForce                 // rotate now
)

// update plans the next key set from the loaded one and stores it with a
// compare-and-swap; then it reloads. A lost swap is storage.ErrConflict
// (after a reload).
func (m *Manager) update(ctx context.Context, mode planMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.state.Load()
	now := m.now()
	next, mats, err := m.plan(cur, now, mode)
	if err != nil || next == nil {
		return err
	}
	expect := cur.version
	if cur.lost {
		expect = 0
	}
	err = m.store.SwapKeySet(ctx, expect, storage.KeySet{Version: expect + 1, Keys: next, UpdatedAt: now})
	if err != nil {
		if errors.Is(err, storage.ErrConflict) {
			if rerr := m.reloadLocked(ctx); rerr != nil {
				m.log.Warn("keys: reload after a lost swap", "err", rerr)
			}
		}
		return fmt.Errorf("keys: store key set: %w", err)
	}
	for _, mat := range mats {
		m.cache[mat.kid] = mat // spare the reload from unsealing our own keys
	}
	for _, mat := range mats {
		rec := next[slices.IndexFunc(next, func(r storage.SigningKey) bool { return r.ID == mat.kid })]
		m.log.Info("keys: new signing key", "kid", rec.ID, "alg", rec.Algorithm, "sign_from", rec.SignFrom)
	}
	return m.reloadLocked(ctx)
}

// plan computes the next stored key set, or nil if nothing changes.
func (m *Manager) plan(cur *state, now time.Time, mode planMode) ([]storage.SigningKey, []*material, error) {
	o := m.opts
	retention := o.TokenLifetime + o.JWKSMaxAge
	changed := cur.lost
	next := make([]storage.SigningKey, 0, len(cur.stored)+len(o.Algorithms))
	for _, rec := range cur.stored {
		if removed(rec, now) {
			changed = true // prune
			continue
		}
		next = append(next, rec)
	}
	var mats []*material
	for _, alg := range o.Algorithms {
		active, pending := -1, -1
		for i, r := range next {
			switch {
			case r.Algorithm != alg:
			case r.SignFrom.After(now):
				pending = i
			case active < 0 || newer(r.SignFrom, r.CreatedAt, r.ID, next[active].SignFrom, next[active].CreatedAt, next[active].ID):
				active = i
			}
		}
		if mode == modeTick && active >= 0 {
			// Keys superseded without a removal time (none should be) get
			// one now, counted from now: they have not signed since.
			for i, r := range next {
				if i != active && r.Algorithm == alg && !r.SignFrom.After(now) && r.RemoveAt.IsZero() {
					next[i].RemoveAt = now.Add(retention)
					changed = true
				}
			}
		}
		var signFrom time.Time
		switch {
		case pending >= 0:
			continue
		case active < 0 && mode == modeInit:
			signFrom = now
		case active < 0:
			signFrom = now.Add(o.PublishAhead)
		case mode == modeForce:
			signFrom = now.Add(o.PublishAhead)
		case mode == modeTick && !now.Before(next[active].SignFrom.Add(o.RotationPeriod-o.PublishAhead)):
			signFrom = now.Add(o.PublishAhead)
			if due := next[active].SignFrom.Add(o.RotationPeriod); due.After(signFrom) {
				signFrom = due
			}
		default:
			continue
		}
		rec, mat, err := newKey(m.kek, alg, now, signFrom)
		if err != nil {
			return nil, nil, err
		}
		if active >= 0 {
			retire := signFrom.Add(retention)
			if r := next[active].RemoveAt; r.IsZero() || r.After(retire) {
				next[active].RemoveAt = retire
			}
		}
		next = append(next, rec)
		mats = append(mats, mat)
		changed = true
	}
	if mode == modeForce && len(mats) == 0 {
		m.log.Info("keys: rotation already pending for every algorithm")
	}
	if !changed {
		return nil, nil, nil
	}
	return next, mats, nil
}
