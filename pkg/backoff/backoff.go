// Package backoff spaces out retries: a delay that doubles from Min up to
// Max, with optional jitter, and a sleep that ends early with its context.
// Every retry loop of the platform (token keys, watches, compare-and-set,
// restarts of users' services) takes its delays from here.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy describes a sequence of delays.
type Policy struct {
	// Min is the first delay.
	Min time.Duration
	// Max caps every delay.
	Max time.Duration
	// Jitter, between 0 and 1, is the fraction of each delay that is drawn
	// at random, so that many clients retrying the same thing spread out:
	// 0.5 gives delays uniform in [d/2, d].
	Jitter float64
}

// Backoff is one sequence of delays under a Policy. Its zero value is not
// usable; start one with Policy.Start. It is not safe for concurrent use.
type Backoff struct {
	policy Policy
	next   time.Duration
	tries  int
}

// Start begins a sequence.
func (p Policy) Start() *Backoff {
	return &Backoff{policy: p, next: p.Min}
}

// Next returns the delay before the next retry and doubles the one after,
// up to Max.
func (b *Backoff) Next() time.Duration {
	d := b.next
	b.next = min(2*b.next, b.policy.Max)
	b.tries++
	if b.policy.Jitter > 0 {
		d -= time.Duration(rand.Float64() * b.policy.Jitter * float64(d))
	}
	return d
}

// Tries is how many delays Next has handed out since the start or the last
// Reset.
func (b *Backoff) Tries() int { return b.tries }

// Reset starts the sequence again from Min, as after a success.
func (b *Backoff) Reset() {
	b.next, b.tries = b.policy.Min, 0
}

// Sleep waits for d, or until ctx ends, and returns ctx's error in that
// case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Wait sleeps for b's next delay; see Sleep.
func (b *Backoff) Wait(ctx context.Context) error {
	return Sleep(ctx, b.Next())
}
