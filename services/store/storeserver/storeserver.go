// Package storeserver wires the store service into a process: it loads the
// platform certificate, keeps the token keys current from the auth service,
// serves StoreService over mTLS with callers identified by token or
// certificate, and sweeps expired records.
//
// services/cmd/store opens the configured backend and calls Serve. An
// all-in-one `micro server` opens its own backend and either calls NewServer
// for a server of its own, or registers store.New on a gRPC server it
// already has (behind identity's interceptors) and runs store.Sweep.
package storeserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/token"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/tokenkeys"
	"m3o.dev/services/store"
)

// The backends Config.Backend may name.
const (
	BackendPebble    = "pebble"
	BackendCockroach = "cockroach"
	BackendMemory    = "memory"
)

// DefaultSweepInterval is how often expired records are swept by default.
const DefaultSweepInterval = time.Minute

// ErrConfig is wrapped by every Config.Validate error.
var ErrConfig = errors.New("invalid store configuration")

// Config is everything a store process needs.
type Config struct {
	// Backend is BackendPebble, BackendCockroach or BackendMemory.
	Backend string
	// DSN is the CockroachDB or PostgreSQL URL of the cockroach backend.
	DSN string
	// DataDir is the directory of the pebble backend.
	DataDir string
	// Address is where the gRPC server listens, host:port; port 0 picks one.
	Address string
	// QuotaBytes caps the bytes stored per tenant database; 0 is no cap.
	QuotaBytes int64
	// SweepInterval is how often expired records are deleted.
	SweepInterval time.Duration
	// CAFile, CertFile and KeyFile are the platform CA and this service's
	// mTLS certificate and key, PEM.
	CAFile, CertFile, KeyFile string
	// AuthAddress is the auth service, host:port, whose published keys and
	// revocations verify the access tokens the proxy forwards; empty
	// accepts only callers identified by mTLS.
	AuthAddress string
}

// Validate checks that the configuration is complete and consistent.
func (c Config) Validate() error {
	var errs []error
	switch c.Backend {
	case BackendPebble:
		if c.DataDir == "" || c.DSN != "" {
			errs = append(errs, errors.New("the pebble backend needs a data directory and no DSN"))
		}
	case BackendCockroach:
		if c.DSN == "" || c.DataDir != "" {
			errs = append(errs, errors.New("the cockroach backend needs a DSN and no data directory"))
		}
	case BackendMemory:
		if c.DSN != "" || c.DataDir != "" {
			errs = append(errs, errors.New("the memory backend takes no DSN or data directory"))
		}
	default:
		errs = append(errs, fmt.Errorf("backend %q is not %s, %s or %s", c.Backend, BackendPebble, BackendCockroach, BackendMemory))
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		errs = append(errs, fmt.Errorf("address %q: %w", c.Address, err))
	}
	if c.QuotaBytes < 0 {
		errs = append(errs, fmt.Errorf("quota of %d bytes is negative", c.QuotaBytes))
	}
	if c.SweepInterval <= 0 {
		errs = append(errs, fmt.Errorf("sweep interval %v is not positive", c.SweepInterval))
	}
	if c.CAFile == "" || c.CertFile == "" || c.KeyFile == "" {
		errs = append(errs, errors.New("the CA, certificate and key files are all required: every hop is mTLS"))
	}
	if c.AuthAddress != "" {
		if _, _, err := net.SplitHostPort(c.AuthAddress); err != nil {
			errs = append(errs, fmt.Errorf("auth address %q: %w", c.AuthAddress, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

// NewServer returns a gRPC server with svc as StoreService: mTLS with
// bundle, callers identified by verifier's tokens or by their mTLS identity
// (verifier may be nil to accept only the latter).
func NewServer(svc *store.Service, bundle *mtls.Bundle, verifier *token.Verifier, logger *slog.Logger) *grpcserver.Server {
	auth := identity.NewAuthenticator(verifier, identity.WithLogger(logger))
	srv := grpcserver.New(grpcserver.Options{
		TLS:    bundle.ServerConfig(),
		Logger: logger,
		Unary:  []grpc.UnaryServerInterceptor{auth.UnaryInterceptor()},
		Stream: []grpc.StreamServerInterceptor{auth.StreamInterceptor()},
	})
	storev1.RegisterStoreServiceServer(srv.GRPC(), svc)
	return srv
}

// Serve serves StoreService over backend on cfg.Address until ctx ends, with
// cfg's certificate and quota and the token keys of the auth service at
// cfg.AuthAddress, sweeping expired records meanwhile. It does not wait for
// auth, which keeps its state here and so starts after the store. backend
// must read the same clock as the service: the real one.
func Serve(ctx context.Context, cfg Config, backend store.Backend, logger *slog.Logger) error {
	bundle, err := mtls.LoadBundle(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("serve store: %w", err)
	}
	verifier, stopKeys, err := tokenkeys.Verifier(ctx, cfg.AuthAddress, bundle, tokenkeys.Options{Logger: logger})
	if err != nil {
		return fmt.Errorf("serve store: %w", err)
	}
	defer stopKeys()
	lis, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return fmt.Errorf("serve store: %w", err)
	}
	svc := store.New(backend, logger, store.Options{QuotaBytes: cfg.QuotaBytes})
	// The sweep must be over before Serve returns and the caller closes
	// the backend under it.
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		store.Sweep(sweepCtx, backend, cfg.SweepInterval, logger)
	}()
	defer func() { stopSweep(); <-swept }()
	logger.Info("store serving", "address", lis.Addr().String(), "backend", cfg.Backend, "auth_address", cfg.AuthAddress)
	return NewServer(svc, bundle, verifier, logger).Serve(ctx, lis)
}
