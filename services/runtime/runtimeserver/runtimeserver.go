// Package runtimeserver runs the runtime service in a core service process
// (see corekit): RuntimeService over mTLS, its records and sources kept in
// the store service as micro/runtime, the services' accounts managed
// through auth, and the reconciliation that starts recorded services
// again after a restart. services/cmd/runtime runs it on its own; `micro
// server` runs it beside the others. OpenLocal opens the local backend
// both use.
package runtimeserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/source"
)

// Spec describes the runtime's process: it keeps its state in the store,
// manages accounts through auth and reads the registry, which corekit
// always connects.
// Billing, when its address is given, tells it which namespaces must pay.
var Spec = corekit.Spec{Name: platform.Runtime, Peers: []string{platform.Store, platform.Billing}}

// Config is what the runtime needs besides its process.
type Config struct {
	// Backend builds and runs the services; the caller opens it (see
	// OpenLocal) and closes it after Run returns.
	Backend runtime.Backend
	// ProxyAddress is the proxy's gRPC host:port, which instances reach
	// the platform through (MICRO_PROXY).
	ProxyAddress string
	// TempDir is a directory of the server's own for checking uploads.
	TempDir string
	// Limits bound uploads; zero fields take the defaults (50 MiB
	// compressed, 200 MiB unpacked, 10,000 files).
	Limits source.Limits
	// AllowLocalGit lets git sources be file:// URLs or hosts on loopback,
	// private or link-local addresses.
	AllowLocalGit bool
	// QuotaServices is how many services a namespace may have; 0 means
	// runtime.DefaultQuotaServices.
	QuotaServices int
	// ReconcileInterval is how often the backend is checked against the
	// records; 0 means runtime.DefaultReconcileInterval.
	ReconcileInterval time.Duration
	// Background are loops of the backend's to run beside the service,
	// such as the kubernetes backend's artifact server.
	Background []func(context.Context)
	// PaymentGrace is how long a past-due namespace's services keep
	// running, when billing's address is known; the proxy gates its calls
	// after the same time.
	PaymentGrace time.Duration
}

// Validate checks that the configuration is complete and consistent.
func (c Config) Validate() error {
	var errs []error
	if c.Backend == nil {
		errs = append(errs, errors.New("no backend"))
	}
	if _, _, err := net.SplitHostPort(c.ProxyAddress); err != nil {
		errs = append(errs, fmt.Errorf("proxy address %q is not host:port: instances reach the platform through it", c.ProxyAddress))
	}
	if c.TempDir == "" {
		errs = append(errs, errors.New("no directory for checking uploads"))
	}
	if c.Limits.CompressedBytes < 0 || c.Limits.CompressedBytes > source.MaxCompressedBytes {
		errs = append(errs, fmt.Errorf("the upload limit must be at most %d MiB", source.MaxCompressedBytes>>20))
	}
	if c.Limits.UnpackedBytes < 0 || c.Limits.Files < 0 || c.QuotaServices < 0 || c.ReconcileInterval < 0 || c.PaymentGrace < 0 {
		errs = append(errs, errors.New("limits, quota, interval and grace may not be negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", corekit.ErrConfig, errors.Join(errs...))
	}
	return nil
}

// Run serves the runtime in p until ctx ends. Beside the API it runs the
// reconciliation, which at once starts again every service that was
// running before the process started.
func Run(ctx context.Context, cfg Config, p *corekit.Process) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := needPeers(p); err != nil {
		return err
	}
	payments, err := followPayments(cfg, p)
	if err != nil {
		return fmt.Errorf("run runtime: %w", err)
	}
	svc, err := newService(cfg, p, payments)
	if err != nil {
		return fmt.Errorf("run runtime: %w", err)
	}
	background := append([]func(context.Context){svc.Reconcile}, cfg.Background...)
	if payments != nil {
		payments.standings.OnChange(svc.Kick)
		background = append(background, payments.run)
	}
	return p.Serve(ctx, svc.Register, corekit.ServeOptions{Background: background})
}

// payments follows billing's statuses for the runtime.
type payments struct {
	standings *billing.Standings
	client    billingv1.BillingServiceClient
}

func (f *payments) run(ctx context.Context) { f.standings.Run(ctx, f.client) }

// followPayments returns what follows billing's statuses, or nil when p
// has no billing address: then no namespace is ever stopped for payment.
func followPayments(cfg Config, p *corekit.Process) (*payments, error) {
	if p.Peers[platform.Billing] == "" {
		return nil, nil
	}
	conn, err := p.Dial(platform.Billing)
	if err != nil {
		return nil, err
	}
	standings := billing.NewStandings(cfg.PaymentGrace, p.Logger.With("component", "payments"))
	return &payments{standings: standings, client: billingv1.NewBillingServiceClient(conn)}, nil
}

// needPeers fails unless p knows where the services the runtime cannot do
// without are.
func needPeers(p *corekit.Process) error {
	for _, name := range []string{platform.Store, platform.Auth, platform.Registry} {
		if p.Peers[name] == "" {
			return fmt.Errorf("%w: the runtime needs the %s service's address", corekit.ErrConfig, name)
		}
	}
	return nil
}

// newService builds the runtime over the store and auth of p.
func newService(cfg Config, p *corekit.Process, pay *payments) (*runtime.Service, error) {
	store, err := p.DialStore()
	if err != nil {
		return nil, err
	}
	authConn, err := p.Dial(platform.Auth)
	if err != nil {
		return nil, err
	}
	var standings runtime.Payments
	if pay != nil {
		standings = pay.standings
	}
	return runtime.New(runtime.Options{
		Store: store, Backend: cfg.Backend,
		Accounts: authv1.NewAccountsServiceClient(authConn), Namespaces: authv1.NewNamespacesServiceClient(authConn),
		Logger: p.Logger, ProxyAddress: cfg.ProxyAddress, TempDir: cfg.TempDir, Limits: cfg.Limits,
		Git: source.GitOptions{AllowLocal: cfg.AllowLocalGit, Limits: cfg.Limits}, QuotaServices: cfg.QuotaServices,
		ReconcileInterval: cfg.ReconcileInterval, Payments: standings,
	})
}
