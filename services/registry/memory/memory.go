// Package memory is an in-process registry.Backend for tests. It keeps
// everything in maps under one mutex and expires nodes with a sweeper, on a
// clock that tests may replace.
package memory

import (
	"context"
	"sync"
	"time"

	"m3o.dev/services/registry"
)

var _ registry.Backend = (*Backend)(nil)

// DefaultSweepInterval is how often expired nodes are removed, which bounds
// how late past its TTL a node disappears.
const DefaultSweepInterval = 100 * time.Millisecond

// Options configures a Backend.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SweepInterval is how often expiries are applied; zero means
	// DefaultSweepInterval, and a negative value disables the sweeper so
	// that a test calls Sweep itself.
	SweepInterval time.Duration
}

// Backend is an in-memory registry.
type Backend struct {
	now func() time.Time

	mu       sync.Mutex
	domains  map[string]*domain
	watchers map[*watcher]struct{}

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// domain is one domain's nodes and when each expires.
type domain struct {
	index   *registry.Index
	expires map[nodeKey]time.Time
}

type nodeKey struct{ name, version, id string }

// New returns an empty backend; Close stops its sweeper.
func New(opts Options) *Backend {
	b := &Backend{
		now:      opts.Now,
		domains:  make(map[string]*domain),
		watchers: make(map[*watcher]struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if b.now == nil {
		b.now = time.Now
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	if interval < 0 {
		close(b.done)
		return b
	}
	go b.sweepLoop(interval)
	return b
}

// Close stops the sweeper; the backend keeps answering, without expiring.
func (b *Backend) Close() error {
	b.stopOnce.Do(func() { close(b.stop) })
	<-b.done
	return nil
}

func (b *Backend) sweepLoop(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.Sweep()
		}
	}
}

// Sweep removes every node whose TTL has passed, telling watchers.
func (b *Backend) Sweep() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for name, d := range b.domains {
		for k, exp := range d.expires {
			if !now.Before(exp) {
				b.deleteLocked(name, d, k, now)
			}
		}
	}
}

// Register implements registry.Backend.
func (b *Backend) Register(ctx context.Context, dom string, svc *registry.Service, ttl time.Duration) error {
	if err := registry.CheckSize("service", svc); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.domainLocked(dom)
	now := b.now()
	for _, n := range svc.Nodes {
		d.expires[nodeKey{svc.Name, svc.Version, n.ID}] = now.Add(ttl)
		if ev, ok := d.index.Put(svc, n); ok {
			b.publishLocked(dom, ev, now)
		}
	}
	return nil
}

// Deregister implements registry.Backend.
func (b *Backend) Deregister(ctx context.Context, dom string, svc *registry.Service) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.domains[dom]
	if !ok {
		return nil
	}
	ids := make([]string, 0, len(svc.Nodes))
	for _, n := range svc.Nodes {
		ids = append(ids, n.ID)
	}
	if len(ids) == 0 {
		ids = d.index.Nodes(svc.Name, svc.Version)
	}
	now := b.now()
	for _, id := range ids {
		b.deleteLocked(dom, d, nodeKey{svc.Name, svc.Version, id}, now)
	}
	return nil
}

// GetService implements registry.Backend.
func (b *Backend) GetService(ctx context.Context, dom, name string) ([]*registry.Service, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*registry.Service
	if d, ok := b.domains[dom]; ok {
		out = d.index.Services(name)
	}
	if len(out) == 0 {
		return nil, registry.ErrNotFound
	}
	return out, nil
}

// ListServices implements registry.Backend.
func (b *Backend) ListServices(ctx context.Context, dom string) ([]*registry.Service, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.domains[dom]
	if !ok {
		return nil, nil
	}
	return d.index.Services(""), nil
}

func (b *Backend) domainLocked(name string) *domain {
	d, ok := b.domains[name]
	if !ok {
		d = &domain{index: registry.NewIndex(), expires: make(map[nodeKey]time.Time)}
		b.domains[name] = d
	}
	return d
}

// deleteLocked removes one node and tells watchers what it changed.
func (b *Backend) deleteLocked(dom string, d *domain, k nodeKey, now time.Time) {
	delete(d.expires, k)
	if ev, ok := d.index.Delete(k.name, k.version, k.id); ok {
		b.publishLocked(dom, ev, now)
	}
}

// snapshotLocked returns the current state of one watch's selection.
func (b *Backend) snapshotLocked(dom, name string) []*registry.Service {
	d, ok := b.domains[dom]
	if !ok {
		return nil
	}
	return d.index.Services(name)
}
