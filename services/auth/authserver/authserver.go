// Package authserver wires the auth service into a process: it loads the
// platform certificate, connects to the store service as micro/auth, starts
// the auth.Service and serves m3o.auth.v1 over mTLS. services/cmd/auth runs
// it on its own; an all-in-one `micro server` calls auth.New with its own
// store connection and serves Service.Server, or calls Start.
package authserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/logging"
	"m3o.dev/pkg/mtls"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
)

// ErrConfig is wrapped by every Config.Validate error.
var ErrConfig = errors.New("invalid auth configuration")

// storeIdentity is who the store service must prove to be.
var storeIdentity = mtls.Identity{Namespace: "micro", Service: "store"}

// Config is everything an auth process needs.
type Config struct {
	// Address is where the gRPC server listens, host:port.
	Address string
	// DataDir keeps a generated admin password.
	DataDir string
	// CAFile, CertFile and KeyFile are the platform CA and this service's
	// mTLS certificate and key, PEM; the certificate must name micro/auth.
	CAFile, CertFile, KeyFile string
	// StoreAddress is the store service's gRPC address, host:port.
	StoreAddress string
	// AdminPassword is the bootstrap admin's password; empty generates one.
	AdminPassword string
	// LogFormat is "json" or "text", and LogLevel "debug", "info", "warn"
	// or "error"; see logging.New.
	LogFormat, LogLevel string
}

// Validate checks that the configuration is complete and consistent.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		errs = append(errs, fmt.Errorf("address %q: %w", c.Address, err))
	}
	if _, _, err := net.SplitHostPort(c.StoreAddress); err != nil {
		errs = append(errs, fmt.Errorf("store address %q: %w", c.StoreAddress, err))
	}
	if c.CAFile == "" || c.CertFile == "" || c.KeyFile == "" {
		errs = append(errs, errors.New("the CA, certificate and key files are all required: every hop is mTLS"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("a data dir is required"))
	}
	if _, err := logging.New(io.Discard, c.LogFormat, c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if err := c.service().Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

// service returns the auth.Config of c: the production defaults with the
// data dir and admin password.
func (c Config) service() auth.Config {
	cfg := auth.DefaultConfig()
	cfg.DataDir, cfg.AdminPassword = c.DataDir, c.AdminPassword
	return cfg
}

// Serve runs the auth service on cfg.Address until ctx ends. A generated
// admin password is printed to out.
func Serve(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer) error {
	bundle, err := mtls.LoadBundle(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("serve auth: %w", err)
	}
	conn, err := grpcclient.Dial(cfg.StoreAddress, bundle, storeIdentity)
	if err != nil {
		return fmt.Errorf("serve auth: %w", err)
	}
	defer conn.Close()
	svc, err := auth.New(ctx, cfg.service(), auth.Deps{Store: storev1.NewStoreServiceClient(conn), Logger: logger, Out: out})
	if err != nil {
		return fmt.Errorf("serve auth: %w", err)
	}
	lis, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return fmt.Errorf("serve auth: %w", err)
	}
	logger.Info("auth serving", "address", lis.Addr().String(), "store", cfg.StoreAddress)
	return serve(ctx, svc, bundle, lis)
}

// serve runs svc's maintenance loop beside its server until ctx ends.
func serve(ctx context.Context, svc *auth.Service, bundle *mtls.Bundle, lis net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	err := svc.Server(bundle.ServerConfig()).Serve(ctx, lis)
	cancel()
	wg.Wait()
	return err
}
