// Package periodic runs work on a fixed interval until its context ends:
// the polling loops of the platform (token keys, access rules, key
// rotation) share this one loop, and the loops that follow a stream of
// changes fall back to it while the stream is down.
package periodic

import (
	"context"
	"log/slog"
	"time"

	"m3o.dev/pkg/backoff"
)

// Every calls do every interval until ctx ends; the first call comes one
// interval after the start. A failure is logged as a warning under what,
// unless ctx has ended, and the next tick tries again.
func Every(ctx context.Context, interval time.Duration, logger *slog.Logger, what string, do func(context.Context) error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := do(ctx); err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, what, "error", err)
			}
		}
	}
}

// watchRetry spaces out the attempts to watch again after a stream fails:
// at once at first, so that a replica that stopped costs a watcher almost
// nothing, then further apart, up to the polling interval.
var watchRetry = backoff.Policy{Min: 100 * time.Millisecond, Jitter: 0.2}

// WatchOrPoll keeps something current from a stream of changes, and by
// polling while the stream is down. watch runs until the stream fails.
// After a failure, which is logged as a warning under what the first time
// and at debug level while the stream keeps failing, poll runs once and the
// watch is tried again after a delay that grows to interval. A watch that
// lasted an interval counts as a success, so the next failure starts again
// from a short delay. It returns when ctx ends.
func WatchOrPoll(ctx context.Context, interval time.Duration, logger *slog.Logger, what string,
	watch, poll func(context.Context) error) {
	policy := watchRetry
	policy.Max = max(interval, policy.Min)
	b := policy.Start()
	for ctx.Err() == nil {
		started := time.Now()
		err := watch(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) >= interval {
			b.Reset()
		}
		level := slog.LevelDebug
		if b.Tries() == 0 {
			level = slog.LevelWarn
		}
		logger.Log(ctx, level, what+": stream ended; polling until it is back", "error", err)
		if err := poll(ctx); err != nil && ctx.Err() == nil {
			logger.Log(ctx, level, what+": poll", "error", err)
		}
		if b.Wait(ctx) != nil {
			return
		}
	}
}
