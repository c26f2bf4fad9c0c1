// Command store serves m3o.store.v1.StoreService on its own, as it runs in
// production; `micro server` runs the same service in one process with the
// others.
package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/store"
	"m3o.dev/services/store/cockroach"
	"m3o.dev/services/store/memory"
	"m3o.dev/services/store/pebble"
	"m3o.dev/services/store/storeserver"
)

// The backends --backend may name.
const (
	backendPebble    = "pebble"
	backendCockroach = "cockroach"
	backendMemory    = "memory"
)

func main() {
	corekit.Main(newApp())
}

// newApp is the command: corekit's flags and the store's own.
func newApp() *cli.App {
	return corekit.App(storeserver.Spec, flags(), run)
}

// flags are the store's own flags, besides corekit's.
func flags() []cli.Flag {
	f := corekit.OwnFlags(platform.Store)
	return []cli.Flag{
		f.String("backend", backendPebble, "where records are kept: pebble, cockroach or memory"),
		f.String("dsn", "", "CockroachDB or PostgreSQL `URL` of the cockroach backend"),
		f.String("data-dir", "", "`DIR` of the pebble backend"),
		f.Int64("quota-bytes", 0, "`BYTES` each tenant database may hold; 0 is no limit"),
		f.Duration("sweep-interval", storeserver.DefaultSweepInterval, "how often expired records are deleted"),
	}
}

// run opens the chosen backend, serves it until ctx ends and closes it.
func run(ctx context.Context, c *cli.Context, p *corekit.Process) error {
	backend, err := openBackend(ctx, c.String("backend"), c.String("dsn"), c.String("data-dir"), p.Logger)
	if err != nil {
		return err
	}
	defer backend.Close()
	return storeserver.Run(ctx, storeserver.Config{
		Backend:       backend,
		QuotaBytes:    c.Int64("quota-bytes"),
		SweepInterval: c.Duration("sweep-interval"),
	}, p)
}

// openBackend opens the backend name with the one setting it takes, and
// refuses settings meant for another.
func openBackend(ctx context.Context, name, dsn, dataDir string, logger *slog.Logger) (store.Backend, error) {
	switch {
	case name == backendPebble && dataDir != "" && dsn == "":
		return pebble.Open(dataDir, pebble.Options{Logger: logger})
	case name == backendCockroach && dsn != "" && dataDir == "":
		return cockroach.Open(ctx, dsn, cockroach.Options{})
	case name == backendMemory && dsn == "" && dataDir == "":
		return memory.New(nil), nil
	}
	return nil, fmt.Errorf("%w: the pebble backend takes --data-dir, the cockroach backend --dsn, the memory backend neither; got --backend %q", corekit.ErrConfig, name)
}
