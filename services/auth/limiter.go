package auth

import (
	"sync"
	"time"
)

// maxTracked bounds the failure counts kept in memory; past it, expired
// windows are swept on the next failure.
const maxTracked = 10000

// failureLimiter counts failed logins per key in fixed windows. It is a
// cache: a restart or another replica starts from zero, which only ever
// lets an attacker try a few more times.
type failureLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	counts map[string]failureWindow
}

type failureWindow struct {
	start time.Time
	n     int
}

func newFailureLimiter(max int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{max: max, window: window, now: now, counts: make(map[string]failureWindow)}
}

// allowed reports whether key may try again.
func (l *failureLimiter) allowed(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.counts[key]
	return !ok || l.expired(w) || w.n < l.max
}

// fail records a failed attempt for key.
func (l *failureLimiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.counts[key]
	if !ok || l.expired(w) {
		if len(l.counts) >= maxTracked {
			l.sweep()
		}
		w = failureWindow{start: l.now()}
	}
	w.n++
	l.counts[key] = w
}

// reset forgets key's failures after a successful login.
func (l *failureLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.counts, key)
}

func (l *failureLimiter) expired(w failureWindow) bool {
	return !l.now().Before(w.start.Add(l.window))
}

func (l *failureLimiter) sweep() {
	for k, w := range l.counts {
		if l.expired(w) {
			delete(l.counts, k)
		}
	}
}
