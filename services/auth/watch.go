package auth

import (
	"slices"
	"sync"
)

// broadcast wakes every waiter at the next change: wait returns a channel
// that notify closes, and a fresh one for the change after.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

// wait returns a channel closed at the next notify.
func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

// notify wakes every waiter.
func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}

// ruleHub passes the namespaces whose rules changed to every rule watcher
// of this replica. A watcher that is busy misses nothing: the namespaces
// gather until it takes them.
type ruleHub struct {
	mu   sync.Mutex
	subs map[*ruleSub]struct{}
}

// ruleSub is one watcher's view of the hub.
type ruleSub struct {
	wake chan struct{}

	mu      sync.Mutex
	pending []string
	resync  bool
}

// subscribe returns a new watcher and the func that removes it.
func (h *ruleHub) subscribe() (*ruleSub, func()) {
	sub := &ruleSub{wake: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*ruleSub]struct{}{}
	}
	h.subs[sub] = struct{}{}
	return sub, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, sub)
	}
}

// publish tells every watcher that the rules of namespaces changed, or,
// with resync, that any namespace's may have.
func (h *ruleHub) publish(namespaces []string, resync bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.add(namespaces, resync)
	}
}

func (s *ruleSub) add(namespaces []string, resync bool) {
	s.mu.Lock()
	for _, ns := range namespaces {
		if !slices.Contains(s.pending, ns) {
			s.pending = append(s.pending, ns)
		}
	}
	s.resync = s.resync || resync
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take returns and forgets what changed since the last take.
func (s *ruleSub) take() ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	namespaces, resync := s.pending, s.resync
	s.pending, s.resync = nil, false
	return namespaces, resync
}
