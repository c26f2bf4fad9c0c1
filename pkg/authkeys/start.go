package authkeys

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"m3o.dev/pkg/backoff"
)

// ErrNotReady is returned by Ready until the keys have been fetched once.
var ErrNotReady = errors.New("token keys not fetched from auth yet")

// firstFetch spaces the retries of the first fetch: quick enough that a
// service starting beside auth verifies tokens a moment after auth answers,
// which matters because the proxy may already be letting users' tokens
// through to it. PublicKeys is cheap, so retrying every couple of seconds
// while auth is down costs nothing. Each attempt is bounded too, since an
// address that accepts connections but never answers would otherwise hold
// the first fetch forever.
var firstFetch = backoff.Policy{Min: 200 * time.Millisecond, Max: 2 * time.Second, Jitter: 0.2}

const (
	firstTryTimeout = 10 * time.Second
	warnEvery       = 30 * time.Second
)

// Start keeps the keys current in the background until ctx ends or the
// returned stop is called, which waits for the work to end. It fetches
// until the first success, then keeps current as Run does.
func (c *Client) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if c.fetchFirst(ctx) {
			c.logger.InfoContext(ctx, "token keys fetched from auth")
			c.Run(ctx)
		}
	}()
	return func() { cancel(); <-done }
}

// fetchFirst retries Refresh until it succeeds, and reports false when ctx
// ended first. A failure is a warning at first and then once every
// warnEvery, and otherwise debug: auth still starting is the usual reason,
// and a line every retry would bury everything else.
func (c *Client) fetchFirst(ctx context.Context) bool {
	b := firstFetch.Start()
	var warned time.Time
	for {
		err := c.refreshBounded(ctx)
		if err == nil {
			return true
		}
		delay := b.Next()
		level := slog.LevelDebug
		if time.Since(warned) >= warnEvery {
			level, warned = slog.LevelWarn, time.Now()
		}
		c.logger.Log(ctx, level, "token keys not fetched yet; bearer tokens are refused until they are",
			"retry_in", delay.String(), "error", err)
		if backoff.Sleep(ctx, delay) != nil {
			return false
		}
	}
}

// refreshBounded is one attempt at Refresh, bounded in time.
func (c *Client) refreshBounded(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, firstTryTimeout)
	defer cancel()
	return c.Refresh(ctx)
}

// Ready returns nil once the keys have been fetched, and ErrNotReady
// before; it is meant for a readiness probe.
func (c *Client) Ready() error {
	select {
	case <-c.loaded:
		return nil
	default:
		return ErrNotReady
	}
}

// Loaded is closed once the keys have been fetched.
func (c *Client) Loaded() <-chan struct{} { return c.loaded }
