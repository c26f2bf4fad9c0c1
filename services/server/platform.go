package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/mtls"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// The core services, in the order they start. Each has its own loopback
// listener and mTLS identity micro/<name>.
const (
	svcStore    = "store"
	svcRegistry = "registry"
	svcAuth     = "auth"
	svcConfig   = "config"
	svcProxy    = "proxy"
	// svcRouter is the identity the proxy uses for its own lookups (rules,
	// keys, where services run). The identity it relays calls with,
	// micro/proxy, vouches for nobody, so it cannot be used for these.
	svcRouter = "router"
)

var coreServices = []string{svcStore, svcRegistry, svcAuth, svcConfig}

// platform is the running set of services of one `micro server`.
type platform struct {
	cfg   Config
	log   *slog.Logger
	out   io.Writer
	pki   *pki
	group *errgroup.Group
	ctx   context.Context

	listeners map[string]net.Listener
	conns     []*grpc.ClientConn
	closers   []func()
	keys      *authkeys.Client

	grpcAddr, httpAddr string
}

// start brings every service up. On failure it stops what it started.
func start(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer) (*platform, error) {
	group, gctx := errgroup.WithContext(ctx)
	p := &platform{cfg: cfg, log: logger, out: out, group: group, ctx: gctx, listeners: make(map[string]net.Listener)}
	if err := p.startAll(); err != nil {
		p.abort()
		return nil, err
	}
	return p, nil
}

func (p *platform) startAll() error {
	var err error
	if p.pki, err = openPKI(p.cfg.DataDir); err != nil {
		return err
	}
	// Every address is known before anything serves, so each service can
	// be handed its clients up front; gRPC connects on first use.
	if err := p.listenAll(); err != nil {
		return err
	}
	if err := p.startKeys(); err != nil {
		return err
	}
	for _, step := range []func() error{p.startStore, p.startRegistry, p.startAuth, p.refreshKeys, p.startConfig, p.startPublic, p.startCatalog} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (p *platform) listenAll() error {
	for _, name := range coreServices {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listen for %s: %w", name, err)
		}
		p.listeners[name] = lis
	}
	return nil
}

func (p *platform) addr(service string) string {
	return p.listeners[service].Addr().String()
}

// dial connects as micro/from to the core service to, checking that the
// server really is micro/to.
func (p *platform) dial(from, to string) (*grpc.ClientConn, error) {
	b, err := p.pki.bundle(from)
	if err != nil {
		return nil, err
	}
	conn, err := grpcclient.Dial(p.addr(to), b, mtls.Identity{Namespace: "micro", Service: to})
	if err != nil {
		return nil, fmt.Errorf("dial %s as %s: %w", to, from, err)
	}
	p.conns = append(p.conns, conn)
	return conn, nil
}

// serve runs a core service's gRPC server on its listener until shutdown.
func (p *platform) serve(name string, srv *grpcserver.Server) {
	lis := p.listeners[name]
	p.group.Go(func() error {
		if err := srv.Serve(p.ctx, lis); err != nil {
			return fmt.Errorf("%s server: %w", name, err)
		}
		return nil
	})
}

// run starts a background loop that ends with the platform.
func (p *platform) run(loop func(context.Context)) {
	p.group.Go(func() error {
		loop(p.ctx)
		return nil
	})
}

// onClose registers cleanup that runs after every server has stopped.
func (p *platform) onClose(f func()) { p.closers = append(p.closers, f) }

// startKeys prepares the token verifier every service shares. It has no keys
// until auth is up; calls with tokens before then are refused, which is
// right since no token can exist yet.
func (p *platform) startKeys() error {
	conn, err := p.dial(svcRouter, svcAuth)
	if err != nil {
		return err
	}
	p.keys = authkeys.New(authv1.NewAuthServiceClient(conn), authkeys.Options{Logger: p.log.With("component", "authkeys")})
	return nil
}

func (p *platform) refreshKeys() error {
	if err := p.keys.Refresh(p.ctx); err != nil {
		return fmt.Errorf("fetch the token keys from auth: %w", err)
	}
	p.run(p.keys.Run)
	return nil
}

func (p *platform) dataPath(name string) string {
	return filepath.Join(p.cfg.DataDir, name)
}

// wait blocks until every server has stopped, then releases the backends.
func (p *platform) wait() error {
	err := p.group.Wait()
	p.close()
	return err
}

// abort stops a platform that failed to start.
func (p *platform) abort() {
	for _, lis := range p.listeners {
		lis.Close()
	}
	// An error from any member cancels the group's context, which stops
	// every server already started.
	p.group.Go(func() error { return context.Canceled })
	_ = p.group.Wait()
	p.close()
}

func (p *platform) close() {
	for _, c := range p.conns {
		c.Close()
	}
	for _, f := range slices.Backward(p.closers) {
		f()
	}
}
