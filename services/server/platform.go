package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"

	"early.m3o.dev/heldmetrics"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/corekit"
)

// internal are the core services that listen on loopback only, each on
// its own port, in the order they start; the proxy listens on the public
// addresses.
var internal = []string{platform.Store, platform.Registry, platform.Auth, platform.Config, platform.Runtime, platform.Billing}

// errNotStarted means a service stopped before it served; the reason is
// the error it returned, which wait reports.
var errNotStarted = errors.New("stopped before serving")

// running is the set of services of one `micro server`.
type running struct {
	cfg     Config
	log     *slog.Logger
	out     io.Writer
	pki     *pki
	group   *errgroup.Group
	ctx     context.Context
	metrics *prometheus.Registry

	listeners map[string]net.Listener
	keys      *authkeys.Client
	closers   []func()

	grpcAddr, httpAddr string
}

// start brings every service up, in order, each once the one before it
// serves. On failure it stops what it started.
// The data dir's lock, held by unlock, is released after everything else.
func start(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer, unlock func()) (*running, error) {
	group, gctx := errgroup.WithContext(ctx)
	r := &running{
		cfg: cfg, log: logger, out: out, group: group, ctx: gctx,
		metrics: prometheus.NewRegistry(), listeners: make(map[string]net.Listener),
	}
	r.onClose(unlock)
	// The embedded etcd's metrics, registered while the program
	// initialised, are served with the platform's own.
	if err := heldmetrics.RegisterWith(r.metrics); err != nil {
		return nil, r.abort(fmt.Errorf("register the embedded etcd's metrics: %w", err))
	}
	if err := r.startAll(); err != nil {
		return nil, r.abort(err)
	}
	return r, nil
}

func (r *running) startAll() error {
	var err error
	if r.pki, err = openPKI(r.cfg.DataDir); err != nil {
		return err
	}
	// Every address is known before anything serves, so each service can
	// be handed its peers up front; gRPC connects on first use.
	if err := r.listenAll(); err != nil {
		return err
	}
	if err := r.startKeys(); err != nil {
		return err
	}
	steps := []func() error{r.startStore, r.startRegistry, r.startAuth, r.startConfig, r.startRuntime, r.startBilling, r.startProxy}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (r *running) listenAll() error {
	for _, name := range internal {
		if err := r.listen(name, "127.0.0.1:0"); err != nil {
			return err
		}
	}
	if err := r.listen(platform.Proxy, r.cfg.Address); err != nil {
		return err
	}
	if err := r.listen(httpListener, r.cfg.HTTPAddress); err != nil {
		return err
	}
	r.grpcAddr, r.httpAddr = r.addr(platform.Proxy), r.addr(httpListener)
	return nil
}

// httpListener names the proxy's HTTP listener among the listeners.
const httpListener = "http"

func (r *running) listen(name, addr string) error {
	lis, err := corekit.Listen(addr)
	if err != nil {
		return fmt.Errorf("listen for %s on %s: %w", name, addr, err)
	}
	r.listeners[name] = lis
	return nil
}

func (r *running) addr(name string) string {
	return r.listeners[name].Addr().String()
}

// peers are the addresses of the internal services, which every service
// may call.
func (r *running) peers() corekit.Peers {
	peers := corekit.Peers{}
	for _, name := range internal {
		peers[name] = r.addr(name)
	}
	return peers
}

// startKeys prepares the token keys every service shares, fetched from auth
// as micro/router. There are none until auth is up; calls with tokens
// before then are refused, which is right since no token can exist yet.
func (r *running) startKeys() error {
	b, err := r.pki.bundle(platform.Router)
	if err != nil {
		return err
	}
	conn, err := grpcclient.Dial(r.addr(platform.Auth), b, corekit.Identity(platform.Auth))
	if err != nil {
		return err
	}
	r.onClose(func() { conn.Close() })
	r.keys = authkeys.New(authv1.NewAuthServiceClient(conn), authkeys.Options{Logger: r.log.With("component", "authkeys")})
	r.onClose(r.keys.Start(r.ctx))
	return nil
}

// process is the corekit.Process service name runs in: its certificate,
// its loopback listener, and the platform's shared keys and metrics,
// which the proxy serves with each service's labelled service="name".
func (r *running) process(name string, hosts ...string) (*corekit.Process, error) {
	b, err := r.pki.bundle(name, hosts...)
	if err != nil {
		return nil, err
	}
	return &corekit.Process{
		Name: name, Bundle: b, Listener: r.listeners[name], Advertise: r.addr(name),
		Peers: r.peers(), Keys: r.keys, Logger: r.log.With("service", name), Out: r.out,
		Metrics: prometheus.WrapRegistererWith(prometheus.Labels{"service": name}, r.metrics),
	}, nil
}

// runService runs a service in its process until the platform stops, and
// returns once it serves.
func (r *running) runService(p *corekit.Process, run func(context.Context, *corekit.Process) error) error {
	r.group.Go(func() error {
		defer p.Close()
		if err := run(r.ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		return nil
	})
	select {
	case <-p.Ready():
		return nil
	case <-r.ctx.Done():
		return fmt.Errorf("%s %w", p.Name, errNotStarted)
	}
}

func (r *running) dataPath(name string) string {
	return filepath.Join(r.cfg.DataDir, name)
}

// onClose registers cleanup that runs after every server has stopped.
func (r *running) onClose(f func()) { r.closers = append(r.closers, f) }

// wait blocks until every server has stopped, then releases the backends.
func (r *running) wait() error {
	err := r.group.Wait()
	r.close()
	return err
}

// abort stops a platform that failed to start with err, and returns the
// error that explains it best: a service's own, when one stopped early.
func (r *running) abort(err error) error {
	for _, lis := range r.listeners {
		lis.Close()
	}
	// An error from any member cancels the group's context, which stops
	// every server already started.
	r.group.Go(func() error { return err })
	first := r.group.Wait()
	r.close()
	if errors.Is(err, errNotStarted) && first != nil {
		return first
	}
	return err
}

func (r *running) close() {
	for _, f := range slices.Backward(r.closers) {
		f()
	}
	r.closers = nil
}
