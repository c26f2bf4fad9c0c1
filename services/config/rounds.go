package config

import (
	"context"
	"slices"
	"sync"
	"time"
)

// rounds gathers the changes of each namespace that arrive while this
// replica is writing the namespace's document, and writes them together
// next: one read and one compare-and-set of the document for all of them,
// and their history records side by side. Within a round the changes still
// apply one after another in the order they came, each its own version, as
// if each had waited for the one before; across replicas the
// compare-and-set still decides.
//
// Written one by one, every change cost four store calls in a row, so under
// `micro bench` (64 clients, Pebble) a set waited about half a second.
type rounds struct {
	mu sync.Mutex
	// waiting holds each namespace's changes not yet taken into a round;
	// a namespace is present while its writer runs.
	waiting map[string][]*pendingChange
}

// pendingChange is one change waiting for, or in, a round.
type pendingChange struct {
	ctx    context.Context // the caller's
	t      target
	action string
	edit   editFunc
	done   chan changed // buffered, so that the writer never waits for the caller
}

// changed is how a change went: the version it made and the paths it
// touched, or why it made none.
type changed struct {
	version uint64
	paths   []string
	err     error
}

// add queues c, reporting whether its namespace had no writer running, in
// which case the caller must start one.
func (r *rounds) add(c *pendingChange) (startWriter bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting == nil {
		r.waiting = map[string][]*pendingChange{}
	}
	q, running := r.waiting[c.t.ns]
	r.waiting[c.t.ns] = append(q, c)
	return !running
}

// next takes the changes of ns for its next round, or, when none are
// waiting, returns nil and counts ns's writer as stopped.
func (r *rounds) next(ns string) []*pendingChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.waiting[ns]
	if len(q) == 0 {
		delete(r.waiting, ns)
		return nil
	}
	n := roundLen(q)
	r.waiting[ns] = slices.Clone(q[n:])
	return q[:n]
}

// roundLen is how many of the waiting changes q the next round takes: at
// most HistoryLength, so that no version a round makes falls out of the
// history the same round keeps, and a rollback alone, because the version
// it restores must already be in the store's history.
func roundLen(q []*pendingChange) int {
	if q[0].action == ActionRollback {
		return 1
	}
	n := min(len(q), HistoryLength)
	if i := slices.IndexFunc(q[:n], func(c *pendingChange) bool { return c.action == ActionRollback }); i > 0 {
		n = i
	}
	return n
}

// roundContext is the context of a round's store calls: it ends at the
// latest of its callers' deadlines, as each change's own calls used to end
// at its own, and has none when one of them has none.
func roundContext(batch []*pendingChange) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(batch[0].ctx)
	var latest time.Time
	for _, c := range batch {
		d, ok := c.ctx.Deadline()
		if !ok {
			return context.WithCancel(base)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(base, latest)
}
