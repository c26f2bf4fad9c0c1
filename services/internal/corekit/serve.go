package corekit

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
)

// Registration registers a service's gRPC services on r, such as
// storev1.RegisterStoreServiceServer with the service bound.
type Registration func(r grpc.ServiceRegistrar)

// ServeOptions tune Serve.
type ServeOptions struct {
	// Authenticator establishes callers; nil builds one that verifies
	// tokens with the process's Keys. The auth service passes its own,
	// which checks tokens with the keys it signs with.
	Authenticator *identity.Authenticator
	// Background are loops that run beside the server and end with it,
	// such as the store's sweep of expired records.
	Background []func(context.Context)
}

// Serve serves the registered services over mTLS on the process's listener until ctx ends, then
// drains it: with health on the health listener, the background loops, and
// the service listed in the registry meanwhile. It returns nil after a
// clean stop.
func (p *Process) Serve(ctx context.Context, register Registration, opts ServeOptions) error {
	srv := p.NewServer(opts.Authenticator)
	register(srv.GRPC())
	return p.ServeGRPC(ctx, srv, opts.Background...)
}

// NewServer returns the gRPC server of a core service: mTLS with the
// process's certificate, the platform's interceptors, and callers
// established by auth (nil: by the process's Keys).
func (p *Process) NewServer(auth *identity.Authenticator) *grpcserver.Server {
	if auth == nil {
		auth = identity.NewAuthenticator(p.Verifier(), identity.WithLogger(p.Logger))
	}
	return NewServer(p.Bundle, auth, p.Logger, p.Metrics)
}

// NewServer returns the gRPC server every core service runs: mTLS with
// bundle's certificate, the platform's interceptors, callers established by
// auth, metrics to reg (nil: a registry of its own).
func NewServer(bundle *mtls.Bundle, auth *identity.Authenticator, logger *slog.Logger, reg prometheus.Registerer) *grpcserver.Server {
	return grpcserver.New(grpcserver.Options{
		TLS:        bundle.ServerConfig(),
		Logger:     logger,
		Registerer: reg,
		Unary:      []grpc.UnaryServerInterceptor{auth.UnaryInterceptor()},
		Stream:     []grpc.StreamServerInterceptor{auth.StreamInterceptor()},
	})
}

// ServeGRPC runs srv on the process's listener as Serve does.
func (p *Process) ServeGRPC(ctx context.Context, srv *grpcserver.Server, background ...func(context.Context)) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, loop := range background {
		g.Go(func() error { loop(ctx); return nil })
	}
	g.Go(func() error { return p.ServeHealth(ctx, srv.Health()) })
	g.Go(func() error { p.Announce(ctx); return nil })
	g.Go(func() error { return srv.Serve(ctx, p.Listener) })
	p.Logger.Info(p.Name+" serving", "address", p.Listener.Addr().String(), "advertise", p.Advertise)
	p.MarkReady()
	return g.Wait()
}

// ServeHealth serves h in plain text on the health listener until ctx
// ends; without a health listener it returns at once.
func (p *Process) ServeHealth(ctx context.Context, h *health.Server) error {
	if p.HealthListener == nil {
		return nil
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, h)
	return serveUntil(ctx, srv, p.HealthListener)
}

// serveUntil serves srv on lis until ctx ends.
func serveUntil(ctx context.Context, srv *grpc.Server, lis net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	srv.Stop()
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
