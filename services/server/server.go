// Package server runs the whole platform in one process: `micro server`.
//
// On first start it creates, under the data dir, the platform CA and every
// service certificate, the runtime's workload CA, the config encryption
// key, the embedded etcd data and the Pebble store; the JWT signing keys
// live in the auth service's own system database there. It then runs
// store, registry, auth, config, the runtime and the public proxy, each on
// its own loopback listener with mTLS between them exactly as in
// production, bootstraps the admin account and prints one ready line.
// Cancelling the context drains every server, stops the developers'
// services and closes the backends; a restart on the same data dir finds
// everything again and starts those services again.
//
// The runtime keeps its sandbox, builds and logs in a directory of its own
// outside the data dir (see DefaultRuntimeDir), which stays 0700.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/services/proxy"
)

// Store backends Config.Store may name.
const (
	StorePebble    = "pebble"
	StoreCockroach = "cockroach"
)

// Config is what `micro server` needs.
type Config struct {
	// DataDir holds every file of the platform.
	DataDir string
	// Address is the public gRPC address of the proxy, host:port.
	Address string
	// HTTPAddress is the public HTTP address: JSON gateway, health, metrics.
	HTTPAddress string
	// Store is StorePebble (embedded, in DataDir) or StoreCockroach.
	Store string
	// StoreDSN is the CockroachDB or PostgreSQL URL for StoreCockroach.
	StoreDSN string
	// EtcdEndpoints, when set, replace the embedded etcd.
	EtcdEndpoints []string
	// AdminPassword is the bootstrap admin's password on first start; empty
	// generates one, printed once and kept in <DataDir>/admin-password.
	AdminPassword string
	// QuotaBytes caps each tenant database of the store; 0 is no cap.
	QuotaBytes int64
	// RateLimit is the proxy's per-account limit.
	RateLimit proxy.RateLimit
	// DrainTimeout bounds how long a stop waits for calls in flight.
	DrainTimeout time.Duration
	// RuntimeDir holds the runtime's sandbox, builds and logs; empty means
	// DefaultRuntimeDir(DataDir). It cannot be inside DataDir, which stays
	// 0700 so that no namespace's uid reads the platform's keys.
	RuntimeDir string
	// AllowLocalGit lets git sources be file:// URLs or hosts on loopback,
	// private or link-local addresses.
	AllowLocalGit bool
	// QuotaServices is how many services a namespace may run; 0 means the
	// runtime's default.
	QuotaServices int
	// ModuleCache, when set, is a Go module download cache
	// ($(go env GOMODCACHE)/cache/download) the runtime copies the SDK's
	// dependencies from, so that builds need no network for them.
	ModuleCache string
	// GoProxy and GoSumDB are the builds' GOPROXY after those copies and
	// their GOSUMDB; empty means the public ones, "off" none.
	GoProxy, GoSumDB string
}

// Validate checks the configuration before anything is created.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("a data dir is required"))
	}
	for _, a := range []struct{ name, addr string }{{"address", c.Address}, {"http address", c.HTTPAddress}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not host:port", a.name, a.addr))
		}
	}
	switch c.Store {
	case StorePebble:
		if c.StoreDSN != "" {
			errs = append(errs, errors.New("a store DSN needs --store cockroach"))
		}
	case StoreCockroach:
		if c.StoreDSN == "" {
			errs = append(errs, errors.New("--store cockroach needs --store-dsn"))
		}
	default:
		errs = append(errs, fmt.Errorf("store %q is not %s or %s", c.Store, StorePebble, StoreCockroach))
	}
	if c.QuotaBytes < 0 {
		errs = append(errs, fmt.Errorf("quota of %d bytes is negative", c.QuotaBytes))
	}
	if c.QuotaServices < 0 {
		errs = append(errs, fmt.Errorf("quota of %d services is negative", c.QuotaServices))
	}
	errs = append(errs, checkRuntimeDir(c.DataDir, c.RuntimeDir))
	return errors.Join(errs...)
}

// Platform is a running `micro server`.
type Platform struct {
	p *running
}

// Start creates what is missing in the data dir, starts every service and
// returns once the platform answers on its public addresses. A generated
// admin password is written to out, once. Cancelling ctx stops the
// platform; Wait then returns.
func Start(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer) (*Platform, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// The namespaces' uids must never read the platform's keys.
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	p, err := start(ctx, cfg, logger, out)
	if err != nil {
		return nil, err
	}
	return &Platform{p: p}, nil
}

// GRPCAddress is where the public gRPC proxy listens.
func (p *Platform) GRPCAddress() string { return p.p.grpcAddr }

// HTTPAddress is where the JSON gateway, health and metrics listen.
func (p *Platform) HTTPAddress() string { return p.p.httpAddr }

// CAFile is the platform CA certificate that clients trust.
func (p *Platform) CAFile() string {
	cert, _ := mtls.CAFiles(p.p.cfg.DataDir)
	return cert
}

// Wait blocks until the platform has stopped and its backends are closed.
// It returns nil after a clean drain.
func (p *Platform) Wait() error { return p.p.wait() }
