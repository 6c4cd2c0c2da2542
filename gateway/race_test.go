package gateway

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foyerid/foyer/storage"
)

// gatedState holds the first CreateGrant until the test releases it, so a
// test can act between a code's redemption and the grant it creates.
type gatedState struct {
	storage.State
	held    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedState) CreateGrant(ctx context.Context, gr storage.Grant) error {
	if g.held.CompareAndSwap(false, true) {
		close(g.entered)
		<-g.release
	}
	return g.State.CreateGrant(ctx, gr)
}

// wantDead checks that the tokens of a token response no longer work.
func (h *harness) wantDead(c rp, r tokenResp) {
	h.t.Helper()
	if r.Status != http.StatusOK {
		return // nothing was issued
	}
	h.wantTokenError(h.refresh(c, r.str("refresh_token"), ""), http.StatusBadRequest, "invalid_grant")
	if ui := h.userinfo(r.str("access_token")); ui.Status != http.StatusUnauthorized {
		h.t.Errorf("userinfo with a reused code's access token: %d, want 401", ui.Status)
	}
}

// A code presented again while its first redemption is still creating
// the grant must still leave no live tokens behind.
func TestCodeReuseDuringRedemption(t *testing.T) {
	t.Parallel()
	gate := &gatedState{entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, func(o *Options) {
		gate.State = o.State
		o.State = gate
	})
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	code, verifier := h.login(h.browser(), c, "alice", nil)

	first := make(chan tokenResp, 1)
	go func() {
		// Not h.exchange: t.Fatal must not run outside the test goroutine.
		first <- h.exchangeNoFatal(c, code, verifier)
	}()
	<-gate.entered
	h.wantTokenError(h.exchange(c, code, verifier), http.StatusBadRequest, "invalid_grant")
	close(gate.release)
	r := <-first
	if r.Status != http.StatusOK && r.errCode() != "invalid_grant" {
		t.Fatalf("first redemption: %d %q", r.Status, r.errCode())
	}
	h.wantDead(c, r)
}

// Concurrent redemptions of one code: at most one succeeds, and in the end
// no tokens from it work.
func TestConcurrentCodeExchange(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	code, verifier := h.login(h.browser(), c, "alice", nil)
	const n = 8
	results := make(chan tokenResp, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { results <- h.exchangeNoFatal(c, code, verifier) })
	}
	wg.Wait()
	close(results)
	ok := 0
	for r := range results {
		switch {
		case r.Status == http.StatusOK:
			ok++
			h.wantDead(c, r)
		case r.errCode() != "invalid_grant":
			t.Errorf("status %d error %q", r.Status, r.errCode())
		}
	}
	if ok > 1 {
		t.Errorf("%d redemptions of one code succeeded", ok)
	}
}

// Concurrent refreshes with one token: one rotation, and every caller gets
// the same successor (the others are retries within the grace window).
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addUser("alice", testPassword)
	c := h.addRP("app", false, skipConsent)
	tok := h.tokensFor(h.browser(), c, "alice", nil)
	const n = 8
	results := make(chan tokenResp, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { results <- h.refreshNoFatal(c, tok.str("refresh_token")) })
	}
	wg.Wait()
	close(results)
	successors := map[string]bool{}
	for r := range results {
		if r.Status != http.StatusOK {
			t.Errorf("status %d error %q", r.Status, r.errCode())
			continue
		}
		successors[r.str("refresh_token")] = true
	}
	if len(successors) != 1 {
		t.Fatalf("%d different successors, want 1", len(successors))
	}
	for s := range successors {
		h.mustTokens(h.refresh(c, s, ""))
	}
}
