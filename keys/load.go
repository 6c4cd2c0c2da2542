package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/foyerid/foyer/storage"
)

// state is an immutable snapshot of the loaded key set.
type state struct {
	version int64
	stored  []storage.SigningKey // as loaded; never modified
	keys    []*key               // every loaded, not yet removed key
	byID    map[string]*key
	byAlg   map[string][]*key // configured algorithms only; newest first
	// lost is set when the store lost a key set this worker had loaded; the
	// worker keeps serving it and the lease holder writes it back.
	lost bool
}

// Version returns the version of the loaded key set (0 before any).
func (m *Manager) Version() int64 { return m.state.Load().version }

// LoadedAt returns when the key set was last loaded successfully (zero
// before Init). A worker whose key set is older than PublishAhead −
// JWKSMaxAge may be missing a key that others sign with: readiness checks
// should fail it.
func (m *Manager) LoadedAt() time.Time {
	ns := m.loadedAt.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Reload reads the key set from the store and, if its version changed,
// unseals the keys it has not seen before and swaps in the new set. On error
// the previous set stays in use.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reloadLocked(ctx)
}

func (m *Manager) reloadLocked(ctx context.Context) error {
	cur := m.state.Load()
	ks, err := m.store.KeySet(ctx)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if len(cur.stored) > 0 {
			if !cur.lost {
				m.log.Error("keys: the store lost the key set; serving the last one loaded until the lease holder restores it",
					"version", cur.version)
				lost := *cur
				lost.lost = true
				m.state.Store(&lost)
			}
			return nil
		}
		ks = storage.KeySet{}
	case err != nil:
		return fmt.Errorf("keys: load key set: %w", err)
	}
	if !cur.lost && ks.Version == cur.version {
		m.loadedAt.Store(m.now().UnixNano())
		return nil
	}
	st, err := m.build(ks)
	if err != nil {
		return err
	}
	m.state.Store(st)
	m.loadedAt.Store(m.now().UnixNano())
	m.log.Info("keys: loaded key set", "version", st.version, "keys", len(st.keys))
	return nil
}

// build turns a stored key set into a snapshot, reusing the material of keys
// already unsealed. Keys already removed are skipped without unsealing.
func (m *Manager) build(ks storage.KeySet) (*state, error) {
	now := m.now()
	st := &state{
		version: ks.Version,
		stored:  ks.Keys,
		byID:    make(map[string]*key, len(ks.Keys)),
		byAlg:   make(map[string][]*key, len(m.opts.Algorithms)),
	}
	cache := make(map[string]*material, len(ks.Keys))
	for _, rec := range ks.Keys {
		if removed(rec, now) {
			continue
		}
		if _, dup := st.byID[rec.ID]; dup {
			return nil, fmt.Errorf("keys: key set version %d holds key %s twice", ks.Version, rec.ID)
		}
		if _, ok := joseAlgorithms[rec.Algorithm]; !ok {
			m.log.Warn("keys: skipping a key of an unsupported algorithm", "kid", rec.ID, "alg", rec.Algorithm)
			continue
		}
		mat := m.cache[rec.ID]
		if mat == nil || !mat.same(rec) {
			var err error
			if mat, err = openKey(m.kek, rec); err != nil {
				return nil, err
			}
		}
		cache[rec.ID] = mat
		k := &key{id: rec.ID, alg: rec.Algorithm, createdAt: rec.CreatedAt,
			signFrom: rec.SignFrom, removeAt: rec.RemoveAt, mat: mat}
		st.keys = append(st.keys, k)
		st.byID[k.id] = k
		if slices.Contains(m.opts.Algorithms, k.alg) {
			st.byAlg[k.alg] = append(st.byAlg[k.alg], k)
		}
	}
	for _, ks := range st.byAlg {
		slices.SortFunc(ks, func(a, b *key) int {
			if newer(a.signFrom, a.createdAt, a.id, b.signFrom, b.createdAt, b.id) {
				return -1
			}
			return 1
		})
	}
	m.cache = cache
	return st, nil
}

// active returns the key alg signs with at now: the published key with the
// latest SignFrom not after now.
func (st *state) active(alg string, now time.Time) *key {
	for _, k := range st.byAlg[alg] { // newest first
		if !k.signFrom.After(now) && k.published(now) {
			return k
		}
	}
	return nil
}

// missing lists the configured algorithms that have no published key at all.
func (m *Manager) missing(st *state, now time.Time) []string {
	var out []string
	for _, alg := range m.opts.Algorithms {
		if !slices.ContainsFunc(st.byAlg[alg], func(k *key) bool { return k.published(now) }) {
			out = append(out, alg)
		}
	}
	return out
}

// KeyInfo describes one loaded key, for `foyer keys list` and the admin API.
type KeyInfo struct {
	ID        string
	Algorithm string
	CreatedAt time.Time
	SignFrom  time.Time
	RemoveAt  time.Time // zero while the key has no successor
}

// Keys lists the loaded keys that are still published, in store order.
func (m *Manager) Keys() []KeyInfo {
	st, now := m.state.Load(), m.now()
	out := make([]KeyInfo, 0, len(st.keys))
	for _, k := range st.keys {
		if k.published(now) {
			out = append(out, KeyInfo{ID: k.id, Algorithm: k.alg, CreatedAt: k.createdAt, SignFrom: k.signFrom, RemoveAt: k.removeAt})
		}
	}
	return out
}
