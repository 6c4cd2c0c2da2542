package keys

import (
	"context"
	"testing"
	"time"
)

// A passive worker reloads what the active one writes but never takes the
// lease, rotates or prunes, even when no one else does.
func TestPassiveNeverRotates(t *testing.T) {
	c := newClock()
	mem := newMemStore(c)
	kek := GenerateKEK()
	po := testOptions(c, RS256)
	po.Passive, po.Holder = true, "passive"
	passive := newManager(t, mem, kek, po)
	mustInit(t, passive) // the first key is still made
	v := passive.Version()
	for range 10 {
		c.Advance(time.Hour)
		mustTick(t, passive)
	}
	if passive.Version() != v {
		t.Fatalf("a passive worker wrote the key set: version %d → %d", v, passive.Version())
	}
	ok, err := mem.AcquireLease(context.Background(), LeaseName, "someone", time.Minute)
	if err != nil || !ok {
		t.Fatalf("the lease should be free: %v %v", ok, err)
	}
	if err := mem.ReleaseLease(context.Background(), LeaseName, "someone"); err != nil {
		t.Fatal(err)
	}

	ao := testOptions(c, RS256)
	ao.Holder = "active"
	active := newManager(t, mem, kek, ao)
	mustInit(t, active)
	mustTick(t, active) // rotation is long due: the active worker rotates
	mustTick(t, passive)
	if active.Version() == v || passive.Version() != active.Version() {
		t.Fatalf("versions: active %d, passive %d, first %d", active.Version(), passive.Version(), v)
	}
}
