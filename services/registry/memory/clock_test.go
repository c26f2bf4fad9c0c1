package memory_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"m3o.dev/services/registry"
	"m3o.dev/services/registry/memory"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestExpiryClock checks expiry on an injected clock, to the second: a node
// lives exactly its TTL from its last registration.
func TestExpiryClock(t *testing.T) {
	c := &clock{now: time.Unix(1_000_000, 0)}
	b := memory.New(memory.Options{Now: c.Now, SweepInterval: -1})
	s := &registry.Service{Name: "greeter", Nodes: []registry.Node{{ID: "n1", Address: "127.0.0.1:1"}}}
	if err := b.Register(t.Context(), "tenant-a", s, 15*time.Second); err != nil {
		t.Fatalf("Register = %v", err)
	}
	steps := []struct {
		advance   time.Duration
		heartbeat bool
		want      bool
	}{
		{advance: 10 * time.Second, heartbeat: true, want: true},
		{advance: 14 * time.Second, want: true},
		{advance: time.Second, want: false},
	}
	for i, step := range steps {
		c.advance(step.advance)
		if step.heartbeat {
			if err := b.Register(t.Context(), "tenant-a", s, 15*time.Second); err != nil {
				t.Fatalf("step %d: Register = %v", i, err)
			}
		}
		b.Sweep()
		_, err := b.GetService(t.Context(), "tenant-a", "greeter")
		if got := err == nil; got != step.want {
			t.Errorf("step %d: GetService found = %t (%v), want %t", i, got, err, step.want)
		}
		if err != nil && !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("step %d: GetService = %v, want ErrNotFound", i, err)
		}
	}
}
