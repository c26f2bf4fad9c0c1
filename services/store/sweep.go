package store

import (
	"context"
	"log/slog"
	"time"
)

// SweepBatch is the most expired records one Backend.Sweep call deletes, so
// that no single transaction grows with a backlog.
const SweepBatch = 500

// Sweep deletes expired records from b every interval until ctx ends.
// Reads already hide expired records; sweeping gives back their space and
// their bytes of quota. Failures are logged and retried on the next tick.
// Every replica may run it: batches are small and deleting an expired
// record twice is harmless.
func Sweep(ctx context.Context, b Backend, interval time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if n, err := sweepAll(ctx, b); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "sweep expired records", "swept", n, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sweepAll sweeps batch after batch until one comes back short, and says
// how many records it deleted.
func sweepAll(ctx context.Context, b Backend) (int, error) {
	total := 0
	for ctx.Err() == nil {
		n, err := b.Sweep(ctx, SweepBatch)
		total += n
		if err != nil || n < SweepBatch {
			return total, err
		}
	}
	return total, ctx.Err()
}
