package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/auth"
	"m3o.dev/services/auth/authserver"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/billingserver"
	billinglocal "m3o.dev/services/billing/local"
	"m3o.dev/services/billing/stripe"
	"m3o.dev/services/config"
	"m3o.dev/services/config/configserver"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/proxy/proxyserver"
	"m3o.dev/services/registry/etcdembed"
	"m3o.dev/services/registry/registryserver"
	runtimelocal "m3o.dev/services/runtime/local"
	"m3o.dev/services/runtime/runtimeserver"
	"m3o.dev/services/store"
	"m3o.dev/services/store/cockroach"
	"m3o.dev/services/store/pebble"
	"m3o.dev/services/store/storeserver"
)

func (r *running) startStore() error {
	backend, err := r.openStoreBackend()
	if err != nil {
		return err
	}
	r.onClose(func() { backend.Close() })
	p, err := r.process(platform.Store)
	if err != nil {
		return err
	}
	cfg := storeserver.Config{Backend: backend, QuotaBytes: r.cfg.QuotaBytes, SweepInterval: storeserver.DefaultSweepInterval}
	return r.runService(p, func(ctx context.Context, p *corekit.Process) error { return storeserver.Run(ctx, cfg, p) })
}

// openStoreBackend opens the store backend Config.Store names.
func (r *running) openStoreBackend() (store.Backend, error) {
	return openBackend(r.ctx, r.cfg, r.log)
}

// openBackend opens the store backend cfg.Store names: CockroachDB at
// cfg.StoreDSN, or Pebble in the data dir.
func openBackend(ctx context.Context, cfg Config, logger *slog.Logger) (store.Backend, error) {
	switch cfg.Store {
	case StoreCockroach:
		b, err := cockroach.Open(ctx, cfg.StoreDSN, cockroach.Options{})
		if err != nil {
			return nil, fmt.Errorf("open the cockroach store: %w", err)
		}
		return b, nil
	default:
		b, err := pebble.Open(filepath.Join(cfg.DataDir, pebbleDir), pebble.Options{Logger: logger.With("component", "pebble")})
		if err != nil {
			return nil, fmt.Errorf("open the pebble store: %w", err)
		}
		return b, nil
	}
}

// pebbleDir is the Pebble store's directory under the data dir.
const pebbleDir = "store"

func (r *running) startRegistry() error {
	opts, err := r.etcdOptions()
	if err != nil {
		return err
	}
	backend, closeBackend, err := registryserver.OpenEtcd(opts)
	if err != nil {
		return err
	}
	r.onClose(closeBackend)
	p, err := r.process(platform.Registry)
	if err != nil {
		return err
	}
	cfg := registryserver.Config{Backend: backend}
	return r.runService(p, func(ctx context.Context, p *corekit.Process) error { return registryserver.Run(ctx, cfg, p) })
}

// etcdOptions are the embedded etcd, under a CA of its own that only the
// registry holds a certificate of, or the cluster Config names.
func (r *running) etcdOptions() (registryserver.EtcdOptions, error) {
	logger := r.log.With("service", platform.Registry)
	if len(r.cfg.EtcdEndpoints) > 0 {
		return registryserver.EtcdOptions{Endpoints: r.cfg.EtcdEndpoints, Logger: logger}, nil
	}
	pki, err := etcdembed.LoadOrCreatePKI(r.dataPath("etcd-pki"))
	if err != nil {
		return registryserver.EtcdOptions{}, err
	}
	return registryserver.EtcdOptions{
		Embedded: &etcdembed.Options{Dir: r.dataPath("etcd"), TLS: &pki.Member, Logger: logger},
		TLS:      &pki.Client,
		Logger:   logger,
	}, nil
}

func (r *running) startAuth() error {
	p, err := r.process(platform.Auth)
	if err != nil {
		return err
	}
	kek, err := auth.LoadOrCreateKeyEncryptionKey(r.dataPath(authKEKFile))
	if err != nil {
		return err
	}
	cfg := authserver.Config{
		DataDir: r.cfg.DataDir, AdminPassword: r.cfg.AdminPassword, KeyEncryptionKey: kek, Mail: r.cfg.Mail.config(r.cfg.DataDir),
		PublicAddress: r.publicAddress(),
	}
	return r.runService(p, func(ctx context.Context, p *corekit.Process) error { return authserver.Run(ctx, cfg, p) })
}

// publicAddress is where invitations tell users to reach the platform.
func (r *running) publicAddress() string {
	return invitedAddress(r.cfg.PublicAddress, r.grpcAddr)
}

// invitedAddress is the configured public address, else the one the proxy
// listens on, unless that is every interface, whose users' name for it
// only the admin knows.
func invitedAddress(configured, listening string) string {
	if configured != "" {
		return configured
	}
	if auth.CheckPublicAddress(listening) != nil {
		return ""
	}
	return listening
}

// authKEKFile is the file under the data dir that keeps the key sealing the
// token signing keys, apart from the store they are kept in.
const authKEKFile = "auth-key-encryption-key"

func (r *running) startConfig() error {
	ring, err := r.keyring()
	if err != nil {
		return err
	}
	p, err := r.process(platform.Config)
	if err != nil {
		return err
	}
	cfg := configserver.Config{Keyring: ring}
	return r.runService(p, func(ctx context.Context, p *corekit.Process) error { return configserver.Run(ctx, cfg, p) })
}

// keyring loads the config encryption keys, creating them on first start.
func (r *running) keyring() (*config.Keyring, error) {
	file := r.dataPath("config-keys.json")
	ring, err := config.LoadKeyring(file)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ring, err
	}
	if ring, err = config.GenerateKeyring(); err != nil {
		return nil, err
	}
	if err := ring.WriteFile(file); err != nil {
		return nil, err
	}
	return ring, nil
}

// startBilling runs billing with the provider Config.Billing names, its
// links pointing at the public HTTP address unless another is given.
func (r *running) startBilling() error {
	provider, err := r.billingProvider()
	if err != nil {
		return err
	}
	p, err := r.process(platform.Billing)
	if err != nil {
		return err
	}
	public := r.cfg.Billing.PublicURL
	if public == "" {
		public = "http://" + r.httpAddr
	}
	cfg := billingserver.Config{Provider: provider, PublicURL: public}
	return r.runService(p, func(ctx context.Context, p *corekit.Process) error { return billingserver.Run(ctx, cfg, p) })
}

// billingProvider is the payment provider Config.Billing names.
func (r *running) billingProvider() (billing.Provider, error) {
	switch r.cfg.Billing.Provider {
	case BillingStripe:
		opts := r.cfg.Billing.Stripe
		opts.Logger = r.log.With("service", platform.Billing)
		return stripe.New(opts)
	default:
		return billinglocal.New(), nil
	}
}

// startRuntime runs the runtime over the local backend in the runtime dir.
// The backend kills what a previous server left running before anything
// starts, and the runtime then starts again every service that was
// running, whether the last stop was clean or a kill -9.
func (r *running) startRuntime() error {
	p, err := r.process(platform.Runtime)
	if err != nil {
		return err
	}
	backend, err := r.openLocal(p)
	if err != nil {
		return err
	}
	r.onClose(backend.Close)
	uploads, err := runtimeserver.UploadDir(r.runtimeDir())
	if err != nil {
		return err
	}
	cfg := runtimeserver.Config{
		Backend: backend, ProxyAddress: reachable(r.grpcAddr), TempDir: uploads,
		AllowLocalGit: r.cfg.AllowLocalGit, QuotaServices: r.cfg.QuotaServices,
		PaymentGrace: r.cfg.Billing.PaymentGrace,
	}
	return r.runService(p, func(ctx context.Context, p *corekit.Process) error { return runtimeserver.Run(ctx, cfg, p) })
}

// openLocal opens the local backend with the workload CA.
func (r *running) openLocal(p *corekit.Process) (*runtimelocal.Backend, error) {
	ca, err := r.pki.workloadCA()
	if err != nil {
		return nil, err
	}
	return runtimeserver.OpenLocal(p, runtimeserver.LocalConfig{
		Dir: r.runtimeDir(), WorkloadCA: ca, ModuleCache: r.cfg.ModuleCache,
		GoProxy: r.cfg.GoProxy, GoSumDB: r.cfg.GoSumDB,
	})
}

// runtimeDir is the runtime's directory: configured, or the default.
func (r *running) runtimeDir() string {
	dir := r.cfg.RuntimeDir
	if dir == "" {
		dir = DefaultRuntimeDir(r.cfg.DataDir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	return abs
}

// reachable is an address instances can dial: a listener on every
// interface is reached on loopback.
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsUnspecified() {
		return addr
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// startProxy runs the proxy on the public gRPC address and the gateway,
// health and metrics on the public HTTP address, as services/cmd/proxy
// does.
func (r *running) startProxy() error {
	host, _, _ := net.SplitHostPort(r.cfg.Address)
	p, err := r.process(platform.Proxy, publicHosts(host)...)
	if err != nil {
		return err
	}
	router, err := r.pki.bundle(platform.Router)
	if err != nil {
		return err
	}
	cfg := proxyserver.Config{
		HTTPListener: r.listeners[httpListener], Router: router,
		RateLimit: r.cfg.RateLimit, DrainTimeout: r.cfg.DrainTimeout, PaymentGrace: r.cfg.Billing.PaymentGrace,
		MaxStreams: r.cfg.MaxStreams, TrustedProxies: r.cfg.TrustedProxies, Metrics: r.metrics,
	}
	return r.runService(p, func(ctx context.Context, p *corekit.Process) error { return proxyserver.Run(ctx, cfg, p) })
}

// publicHosts are the names the proxy's certificate must carry besides
// loopback, so clients can check it against the address they dial.
func publicHosts(host string) []string {
	if host == "" || net.ParseIP(host).IsUnspecified() {
		return nil
	}
	return []string{host}
}
