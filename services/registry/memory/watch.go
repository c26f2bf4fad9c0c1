package memory

import (
	"context"
	"sync"
	"time"

	"m3o.dev/services/registry"
)

// maxQueued bounds the events waiting for a slow watcher. Past it the queue
// is dropped and the watcher gets a fresh snapshot instead, so that a stalled
// watcher costs bounded memory and still misses nothing.
const maxQueued = 1024

// watcher is one Watch call's queue.
type watcher struct {
	domain, name string

	mu     sync.Mutex
	queue  []registry.Event
	resync bool
	wake   chan struct{}
}

// Watch implements registry.Backend.
func (b *Backend) Watch(ctx context.Context, dom, name string, send func(registry.Event) error) error {
	w := &watcher{domain: dom, name: name, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	w.queue = []registry.Event{{Type: registry.EventSnapshot, Snapshot: b.snapshotLocked(dom, name), Time: b.now()}}
	b.watchers[w] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.watchers, w)
		b.mu.Unlock()
	}()
	w.wake <- struct{}{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.wake:
		}
		for _, ev := range b.drain(w) {
			if err := send(ev); err != nil {
				return err
			}
		}
	}
}

// drain takes w's queued events, replacing them with a snapshot when the
// queue overflowed. The snapshot is taken under the backend's lock, so no
// change can fall between it and the events queued after it.
func (b *Backend) drain(w *watcher) []registry.Event {
	w.mu.Lock()
	resync := w.resync
	w.mu.Unlock()
	if resync {
		b.mu.Lock()
		snap := registry.Event{Type: registry.EventSnapshot, Snapshot: b.snapshotLocked(w.domain, w.name), Time: b.now()}
		w.mu.Lock()
		w.queue, w.resync = nil, false
		w.mu.Unlock()
		b.mu.Unlock()
		return []registry.Event{snap}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queue
	w.queue = nil
	return q
}

// publishLocked queues ev for every watcher of its domain and service.
func (b *Backend) publishLocked(dom string, ev registry.Event, now time.Time) {
	ev.Time = now
	for w := range b.watchers {
		if w.domain != dom || (w.name != "" && w.name != ev.Service.Name) {
			continue
		}
		w.push(ev)
	}
}

func (w *watcher) push(ev registry.Event) {
	w.mu.Lock()
	switch {
	case w.resync:
	case len(w.queue) >= maxQueued:
		w.queue, w.resync = nil, true
	default:
		w.queue = append(w.queue, ev.Clone())
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
