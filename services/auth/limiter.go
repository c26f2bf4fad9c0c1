package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxTracked bounds the failure counts kept in memory; past it, expired
// windows are swept on the next failure.
const maxTracked = 10000

// loginLimiter limits guessing at secrets. Failed logins are counted per
// account and per client address, each in fixed windows. A login is
// refused when its address has failed too often, whatever the account; or
// when the account is over its limit and the address has itself failed
// within the window. So someone guessing from elsewhere cannot lock an
// account's owner out: a correct secret from an address that has not been
// failing still logs in. The price is one guess for each fresh address an
// attacker brings while the account is over its limit.
//
// It is a cache: a restart or another replica starts from zero, which only
// ever lets an attacker try a few more times.
type loginLimiter struct {
	accounts  *failureLimiter
	addresses *failureLimiter
	logger    *slog.Logger
	lockouts  *prometheus.CounterVec
}

// newLoginLimiter returns the limiter cfg describes, counting lock-outs on
// reg when it is not nil.
func newLoginLimiter(cfg Config, now func() time.Time, logger *slog.Logger, reg prometheus.Registerer) *loginLimiter {
	return &loginLimiter{
		accounts:  newFailureLimiter(cfg.MaxFailures, cfg.FailureWindow, now),
		addresses: newFailureLimiter(cfg.MaxAddressFailures, cfg.FailureWindow, now),
		logger:    logger,
		lockouts:  lockoutCounter(reg),
	}
}

// lockoutCounter is m3o_auth_lockouts_total, registered on reg, or the one
// already registered there by another auth service of the process.
func lockoutCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "m3o_auth_lockouts_total",
		Help: "Times an account or a client address reached its limit of failed logins, by scope (account or address).",
	}, []string{"scope"})
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
	}
	return c
}

// refused reports whether a login to the account counted under key, from
// client address addr, is refused.
func (l *loginLimiter) refused(key, addr string) bool {
	return !l.addresses.allowed(addr) || !l.accounts.allowed(key) && l.addresses.failed(addr)
}

// fail counts a failed login to the accounts counted under keys from addr,
// and reports each limit that this failure reached. who describes the
// account for the log, without anything the caller typed.
func (l *loginLimiter) fail(ctx context.Context, keys []string, addr string, who ...any) {
	reached := false
	for _, k := range keys {
		reached = l.accounts.fail(k) || reached
	}
	if reached {
		l.lockedOut(ctx, "account", addr, who...)
	}
	if l.addresses.fail(addr) {
		l.lockedOut(ctx, "address", addr)
	}
}

// succeed forgets the failures of the account counted under keys. The
// address keeps its own: logging in to one account must not buy more
// guesses at another.
func (l *loginLimiter) succeed(keys []string) {
	for _, k := range keys {
		l.accounts.reset(k)
	}
}

// lockedOut logs and counts a limit reached.
func (l *loginLimiter) lockedOut(ctx context.Context, scope, addr string, who ...any) {
	l.lockouts.WithLabelValues(scope).Inc()
	attrs := append([]any{"scope", scope, "client_address", addr, "window", l.accounts.window.String()}, who...)
	l.logger.WarnContext(ctx, "too many failed logins; refusing more from the addresses that failed", attrs...)
}

// failureLimiter counts failures per key in fixed windows.
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

// allowed reports whether key is under its limit.
func (l *failureLimiter) allowed(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.counts[key]
	return !ok || l.expired(w) || w.n < l.max
}

// failed reports whether key has failed within the window.
func (l *failureLimiter) failed(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.counts[key]
	return ok && !l.expired(w) && w.n > 0
}

// fail records a failure for key and reports whether it reached the limit.
func (l *failureLimiter) fail(key string) bool {
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
	return w.n == l.max
}

// reset forgets key's failures.
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
