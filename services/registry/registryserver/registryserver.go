// Package registryserver wires the registry service into a process: it
// opens the configured backend (starting an embedded etcd when asked),
// loads the platform certificate, keeps the token keys current from the auth
// service, and serves
// RegistryService over mTLS. services/cmd/registry runs it on its own; an
// all-in-one `micro server` calls OpenEtcd and registers registry.New on its
// own gRPC server, or calls NewServer.
package registryserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/token"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/tokenkeys"
	"m3o.dev/services/registry"
	"m3o.dev/services/registry/etcd"
	"m3o.dev/services/registry/etcdembed"
)

// The backends Config.Backend may name.
const (
	BackendEtcd   = "etcd"
	BackendMemory = "memory"
)

// ErrConfig is wrapped by every Config.Validate error.
var ErrConfig = errors.New("invalid registry configuration")

// Config is everything a registry process needs.
type Config struct {
	// Backend is BackendEtcd or BackendMemory.
	Backend string
	// EtcdEndpoints are the etcd cluster's client endpoints, host:port.
	EtcdEndpoints []string
	// EmbeddedEtcdDir, when set, starts an embedded etcd with its data
	// there and uses it instead of EtcdEndpoints.
	EmbeddedEtcdDir string
	// Address is where the gRPC server listens, host:port.
	Address string
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
	case BackendEtcd:
		if (len(c.EtcdEndpoints) == 0) == (c.EmbeddedEtcdDir == "") {
			errs = append(errs, errors.New("the etcd backend needs either etcd endpoints or an embedded etcd directory"))
		}
	case BackendMemory:
		if len(c.EtcdEndpoints) > 0 || c.EmbeddedEtcdDir != "" {
			errs = append(errs, errors.New("the memory backend takes no etcd options"))
		}
	default:
		errs = append(errs, fmt.Errorf("backend %q is not %s or %s", c.Backend, BackendEtcd, BackendMemory))
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		errs = append(errs, fmt.Errorf("address %q: %w", c.Address, err))
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

// OpenEtcd connects to the etcd at endpoints or, when embeddedDir is set,
// starts an embedded etcd with its data there and connects to that. The
// returned close function releases the client and the embedded server.
func OpenEtcd(endpoints []string, embeddedDir string, logger *slog.Logger) (registry.Backend, func(), error) {
	stopEmbedded := func() {}
	if embeddedDir != "" {
		srv, err := etcdembed.Start(etcdembed.Options{Dir: embeddedDir, Logger: logger})
		if err != nil {
			return nil, nil, fmt.Errorf("open etcd backend: %w", err)
		}
		endpoints, stopEmbedded = srv.Endpoints(), srv.Close
	}
	// The client's own logger is silenced: the registry reports what an
	// outage means to its callers, and the client would repeat each retry.
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		stopEmbedded()
		return nil, nil, fmt.Errorf("open etcd backend at %v: %w", endpoints, err)
	}
	b, err := etcd.New(etcd.Options{Client: client, Logger: logger})
	if err != nil {
		client.Close()
		stopEmbedded()
		return nil, nil, fmt.Errorf("open etcd backend: %w", err)
	}
	return b, func() { client.Close(); stopEmbedded() }, nil
}

// NewServer returns a gRPC server with RegistryService over backend: mTLS
// with bundle, callers identified by verifier's tokens or by their mTLS
// identity (verifier may be nil to accept only the latter).
func NewServer(backend registry.Backend, bundle *mtls.Bundle, verifier *token.Verifier, logger *slog.Logger) *grpcserver.Server {
	auth := identity.NewAuthenticator(verifier, identity.WithLogger(logger))
	srv := grpcserver.New(grpcserver.Options{
		TLS:    bundle.ServerConfig(),
		Logger: logger,
		Unary:  []grpc.UnaryServerInterceptor{auth.UnaryInterceptor()},
		Stream: []grpc.StreamServerInterceptor{auth.StreamInterceptor()},
	})
	registryv1.RegisterRegistryServiceServer(srv.GRPC(), registry.New(backend, logger))
	return srv
}

// Serve serves RegistryService over backend on cfg.Address until ctx ends,
// with cfg's certificate and the token keys of the auth service at
// cfg.AuthAddress. It does not wait for auth: until auth answers, only
// callers identified by mTLS get through.
func Serve(ctx context.Context, cfg Config, backend registry.Backend, logger *slog.Logger) error {
	bundle, err := mtls.LoadBundle(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("serve registry: %w", err)
	}
	verifier, stopKeys, err := tokenkeys.Verifier(ctx, cfg.AuthAddress, bundle, tokenkeys.Options{Logger: logger})
	if err != nil {
		return fmt.Errorf("serve registry: %w", err)
	}
	defer stopKeys()
	lis, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return fmt.Errorf("serve registry: %w", err)
	}
	logger.Info("registry serving", "address", lis.Addr().String(), "backend", cfg.Backend, "auth_address", cfg.AuthAddress)
	return NewServer(backend, bundle, verifier, logger).Serve(ctx, lis)
}
