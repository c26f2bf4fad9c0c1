// Package configserver wires the config service into a process: it loads
// the platform certificate and the config keyring, connects to the store and
// auth services over mTLS, and serves ConfigService. services/cmd/config
// runs it on its own; an all-in-one `micro server` builds config.New over its
// own store client and registers it with NewServer or on its own gRPC
// server, or calls Run.
package configserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/token"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/config"
)

// ErrConfig is wrapped by every Config.Validate error.
var ErrConfig = errors.New("invalid config service configuration")

// Identities the process expects of itself and of the services it calls.
var (
	// Self is the identity the store service grants _config to.
	Self = mtls.Identity{Namespace: platform.Namespace, Service: "config"}
	// StoreIdentity is the store service's identity.
	StoreIdentity = mtls.Identity{Namespace: platform.Namespace, Service: "store"}
	// AuthIdentity is the auth service's identity.
	AuthIdentity = mtls.Identity{Namespace: platform.Namespace, Service: "auth"}
)

// Config is everything a config service process needs.
type Config struct {
	// Address is where the gRPC server listens, host:port.
	Address string
	// CAFile, CertFile and KeyFile are the platform CA and this service's
	// mTLS certificate and key, PEM; the certificate must be micro/config.
	CAFile, CertFile, KeyFile string
	// StoreAddress is the store service, host:port.
	StoreAddress string
	// AuthAddress is the auth service, host:port, whose public keys verify
	// the callers' access tokens.
	AuthAddress string
	// KeyringFile is a file holding the config keyring (see
	// config.ParseKeyring). Exactly one of KeyringFile and Keyring is set.
	KeyringFile string
	// Keyring is the config keyring itself, in either form ParseKeyring
	// takes. It is never logged.
	Keyring string
	// PollInterval is how often watchers look for changes made through
	// other replicas; 0 means config.DefaultPollInterval.
	PollInterval time.Duration
}

// Validate checks that the configuration is complete and consistent.
func (c Config) Validate() error {
	var errs []error
	for name, addr := range map[string]string{"address": c.Address, "store address": c.StoreAddress, "auth address": c.AuthAddress} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, addr, err))
		}
	}
	if c.CAFile == "" || c.CertFile == "" || c.KeyFile == "" {
		errs = append(errs, errors.New("the CA, certificate and key files are all required: every hop is mTLS"))
	}
	if (c.KeyringFile == "") == (c.Keyring == "") {
		errs = append(errs, errors.New("give the config encryption key either as a key file or in MICRO_CONFIG_KEY, not both and not neither"))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll interval %s is negative", c.PollInterval))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

// LogValue describes the configuration for logs, leaving the keyring out.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("address", c.Address),
		slog.String("store_address", c.StoreAddress),
		slog.String("auth_address", c.AuthAddress),
		slog.String("key_file", c.KeyringFile),
		slog.Bool("key_from_env", c.Keyring != ""),
		slog.Duration("poll_interval", c.PollInterval),
	)
}

// String describes the configuration as LogValue does, so that printing it
// with fmt never shows the keyring either.
func (c Config) String() string { return c.LogValue().String() }

// LoadKeyring returns the keyring the configuration names.
func (c Config) LoadKeyring() (*config.Keyring, error) {
	if c.KeyringFile != "" {
		return config.LoadKeyring(c.KeyringFile)
	}
	ring, err := config.ParseKeyring([]byte(c.Keyring))
	if err != nil {
		return nil, fmt.Errorf("MICRO_CONFIG_KEY: %w", err)
	}
	return ring, nil
}

// NewServer returns a gRPC server with svc over mTLS with bundle, callers
// identified by verifier's tokens or by their mTLS identity (verifier may be
// nil to accept only the latter).
func NewServer(svc *config.Service, bundle *mtls.Bundle, verifier *token.Verifier, logger *slog.Logger) *grpcserver.Server {
	auth := identity.NewAuthenticator(verifier, identity.WithLogger(logger))
	srv := grpcserver.New(grpcserver.Options{
		TLS:    bundle.ServerConfig(),
		Logger: logger,
		Unary:  []grpc.UnaryServerInterceptor{auth.UnaryInterceptor()},
		Stream: []grpc.StreamServerInterceptor{auth.StreamInterceptor()},
	})
	svc.Register(srv.GRPC())
	return srv
}

// Run serves the config service described by cfg on cfg.Address until ctx
// ends.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return fmt.Errorf("run config: %w", err)
	}
	return Serve(ctx, cfg, lis, logger)
}

// Serve serves the config service described by cfg on lis until ctx ends:
// it loads the keyring and the certificate, connects to the store and to
// auth for the token keys, and serves. It closes lis.
func Serve(ctx context.Context, cfg Config, lis net.Listener, logger *slog.Logger) error {
	defer lis.Close()
	ring, err := cfg.LoadKeyring()
	if err != nil {
		return fmt.Errorf("serve config: %w", err)
	}
	bundle, err := mtls.LoadBundle(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("serve config: %w", err)
	}
	if bundle.Identity != Self {
		return fmt.Errorf("serve config: certificate is %s, want %s: %w", bundle.Identity, Self, ErrConfig)
	}
	storeConn, err := grpcclient.Dial(cfg.StoreAddress, bundle, StoreIdentity)
	if err != nil {
		return fmt.Errorf("serve config: %w", err)
	}
	defer storeConn.Close()
	verifier, stopKeys, err := authVerifier(ctx, cfg.AuthAddress, bundle, logger)
	if err != nil {
		return fmt.Errorf("serve config: %w", err)
	}
	defer stopKeys()
	svc, err := config.New(config.Options{
		Store: storev1.NewStoreServiceClient(storeConn), Keyring: ring,
		Logger: logger, PollInterval: cfg.PollInterval,
	})
	if err != nil {
		return fmt.Errorf("serve config: %w", err)
	}
	logger.Info("config serving", "address", lis.Addr().String(), "keyring", ring)
	return NewServer(svc, bundle, verifier, logger).Serve(ctx, lis)
}
