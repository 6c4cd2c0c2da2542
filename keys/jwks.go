package keys

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"time"
)

// jwksDoc is a serialised JWKS, valid for one snapshot between two moments
// at which its membership or order changes.
type jwksDoc struct {
	st    *state
	from  time.Time // inclusive
	until time.Time // exclusive; zero: no end
	body  []byte
	etag  string
}

func (d *jwksDoc) validAt(st *state, now time.Time) bool {
	return d != nil && d.st == st && !now.Before(d.from) && (d.until.IsZero() || now.Before(d.until))
}

// JWKS returns the JSON Web Key Set (RFC 7517 §5) of every published key —
// active, waiting to sign, and retired but not yet removed — and a strong
// ETag for it. The body is shared: callers must not modify it. It is rebuilt
// only when the key set or the time-based membership changes, so the common
// call allocates nothing.
func (m *Manager) JWKS() (body []byte, etag string) {
	st, now := m.state.Load(), m.now()
	if d := m.jwks.Load(); d.validAt(st, now) {
		return d.body, d.etag
	}
	m.jwksMu.Lock()
	defer m.jwksMu.Unlock()
	if d := m.jwks.Load(); d.validAt(st, now) {
		return d.body, d.etag
	}
	d := m.buildJWKS(st, now)
	m.jwks.Store(d)
	return d.body, d.etag
}

// JWKSMaxAge returns how long relying parties may cache JWKS: the max-age
// the gateway must send, on which pre-publication relies.
func (m *Manager) JWKSMaxAge() time.Duration { return m.opts.JWKSMaxAge }

// buildJWKS serialises the keys published at now. Active keys come first
// (default algorithm first), then keys waiting to sign, then retired ones,
// for the benefit of clients that wrongly take the first key.
func (m *Manager) buildJWKS(st *state, now time.Time) *jwksDoc {
	d := &jwksDoc{st: st}
	type entry struct {
		k    *key
		rank int // 0 active, 1 waiting, 2 retired
		alg  int
	}
	var entries []entry
	for _, k := range st.keys {
		// Membership changes at RemoveAt, order at SignFrom.
		for _, t := range []time.Time{k.signFrom, k.removeAt} {
			switch {
			case t.IsZero():
			case !now.Before(t):
				if t.After(d.from) {
					d.from = t
				}
			case d.until.IsZero() || t.Before(d.until):
				d.until = t
			}
		}
		if !k.published(now) {
			continue
		}
		e := entry{k: k, rank: 2, alg: slices.Index(m.opts.Algorithms, k.alg)}
		if e.alg < 0 {
			e.alg = len(m.opts.Algorithms)
		}
		switch {
		case k.signFrom.After(now):
			e.rank = 1
		case st.active(k.alg, now) == k:
			e.rank = 0
		}
		entries = append(entries, e)
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		if c := cmp.Compare(a.alg, b.alg); c != 0 {
			return c
		}
		return b.k.signFrom.Compare(a.k.signFrom)
	})
	var buf bytes.Buffer
	buf.WriteString(`{"keys":[`)
	for i, e := range entries {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(e.k.mat.jwk)
	}
	buf.WriteString(`]}`)
	d.body = buf.Bytes()
	sum := sha256.Sum256(d.body)
	d.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	return d
}
