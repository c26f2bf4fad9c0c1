package proxy

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"m3o.dev/pkg/identity"
)

// RateLimit is a token bucket per account: Burst calls at once, refilled
// at PerSecond calls a second. A zero PerSecond means no limit.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// limiter holds one bucket per account, dropping buckets left idle so the
// map stays as small as the set of active callers.
type limiter struct {
	limit    RateLimit
	mu       sync.Mutex
	buckets  map[string]*bucket
	lastScan time.Time
}

type bucket struct {
	*rate.Limiter
	lastUsed time.Time
}

const idleBucket = 10 * time.Minute

func newLimiter(l RateLimit) *limiter {
	return &limiter{limit: l, buckets: make(map[string]*bucket)}
}

// rateLimitError carries how long to wait before the next call may pass.
type rateLimitError struct {
	retryAfter time.Duration
}

func (e *rateLimitError) Error() string {
	return fmt.Sprintf("rate limit exceeded, retry in %s", e.retryAfter.Round(time.Millisecond))
}

func (e *rateLimitError) Unwrap() error { return ErrRateLimited }

// allow takes one token from the caller's bucket.
func (l *limiter) allow(key string) error {
	if l.limit.PerSecond <= 0 {
		return nil
	}
	now := time.Now()
	l.mu.Lock()
	b := l.bucketFor(key, now)
	r := b.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay > 0 {
		r.CancelAt(now)
	}
	l.mu.Unlock()
	if delay > 0 {
		return &rateLimitError{retryAfter: delay}
	}
	return nil
}

// bucketFor must be called with l.mu held.
func (l *limiter) bucketFor(key string, now time.Time) *bucket {
	if now.Sub(l.lastScan) > idleBucket {
		for k, b := range l.buckets {
			if now.Sub(b.lastUsed) > idleBucket {
				delete(l.buckets, k)
			}
		}
		l.lastScan = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{Limiter: rate.NewLimiter(rate.Limit(l.limit.PerSecond), max(l.limit.Burst, 1))}
		l.buckets[key] = b
	}
	b.lastUsed = now
	return b
}

// rateKey is the account for a caller with a token, else its address, so
// anonymous callers cannot share one another's budget.
func rateKey(client string, c identity.Caller) string {
	if c.Namespace != "" {
		return "acct:" + c.Namespace + "/" + c.Subject
	}
	return "addr:" + client
}
