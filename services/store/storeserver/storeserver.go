// Package storeserver runs the store service in a core service process
// (see corekit): StoreService over mTLS, callers identified by token or
// certificate, and a sweep of expired records. services/cmd/store opens the
// configured backend and runs it; `micro server` runs it over its own.
package storeserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/platform"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/store"
)

// Spec describes the store's process: it calls no other service but auth,
// for token keys, and the registry. It does not wait for auth, which keeps
// its state here and so starts after it.
var Spec = corekit.Spec{Name: platform.Store}

// DefaultSweepInterval is how often expired records are swept by default.
const DefaultSweepInterval = time.Minute

// Config is what the store service needs besides its process.
type Config struct {
	// Backend keeps the records. The caller opens it, and closes it after
	// Run returns; it must read the real clock, as the service does.
	Backend store.Backend
	// QuotaBytes caps the bytes stored per tenant database; 0 is no cap.
	QuotaBytes int64
	// SweepInterval is how often expired records are deleted.
	SweepInterval time.Duration
}

// Validate checks that the configuration is complete and consistent.
func (c Config) Validate() error {
	var errs []error
	if c.Backend == nil {
		errs = append(errs, errors.New("no backend"))
	}
	if c.QuotaBytes < 0 {
		errs = append(errs, fmt.Errorf("quota of %d bytes is negative", c.QuotaBytes))
	}
	if c.SweepInterval <= 0 {
		errs = append(errs, fmt.Errorf("sweep interval %v is not positive", c.SweepInterval))
	}
	return corekit.ConfigError(errs...)
}

// Run serves the store in p until ctx ends, sweeping expired records
// meanwhile; the sweep is over by the time it returns, so that the caller
// may close the backend.
func Run(ctx context.Context, cfg Config, p *corekit.Process) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	svc := store.New(cfg.Backend, p.Logger, store.Options{QuotaBytes: cfg.QuotaBytes})
	sweep := func(ctx context.Context) { store.Sweep(ctx, cfg.Backend, cfg.SweepInterval, p.Logger) }
	register := func(r grpc.ServiceRegistrar) { storev1.RegisterStoreServiceServer(r, svc) }
	return p.Serve(ctx, register, corekit.ServeOptions{Background: []func(context.Context){sweep}})
}
