// Package periodic runs work on a fixed interval until its context ends:
// the polling loops of the platform (token keys, access rules, key
// rotation) share this one loop.
package periodic

import (
	"context"
	"log/slog"
	"time"
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
