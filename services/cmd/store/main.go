// Command store serves m3o.store.v1.StoreService on its own, as it runs in
// production; `micro server` embeds the same service instead.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"m3o.dev/services/store"
	"m3o.dev/services/store/cockroach"
	"m3o.dev/services/store/memory"
	"m3o.dev/services/store/pebble"
	"m3o.dev/services/store/storeserver"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := newApp(logger, run).Run(os.Args); err != nil {
		logger.Error("store stopped", "error", err)
		os.Exit(1)
	}
}

// run opens the chosen backend and serves it until ctx ends.
func run(ctx context.Context, cfg storeserver.Config, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var backend store.Backend
	switch cfg.Backend {
	case storeserver.BackendPebble:
		b, err := pebble.Open(cfg.DataDir, pebble.Options{Logger: logger})
		if err != nil {
			return err
		}
		backend = b
	case storeserver.BackendCockroach:
		b, err := cockroach.Open(ctx, cfg.DSN, cockroach.Options{})
		if err != nil {
			return err
		}
		backend = b
	case storeserver.BackendMemory:
		backend = memory.New(nil)
	default:
		return fmt.Errorf("backend %q: %w", cfg.Backend, storeserver.ErrConfig)
	}
	defer backend.Close()
	return storeserver.Serve(ctx, cfg, backend, logger)
}
