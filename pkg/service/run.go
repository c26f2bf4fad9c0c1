package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"m3o.dev/pkg/grpcserver"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// connect prepares the platform side: the certificate files, the proxy
// connection and the service account's credentials.
func (s *Service) connect() error {
	c, err := newCerts(s.env.TLSDir, s.env.Identity(), s.log)
	if err != nil {
		return err
	}
	conn, err := dialProxy(s.env, c)
	if err != nil {
		return fmt.Errorf("proxy %s: %w", s.env.Proxy, err)
	}
	s.certs = c
	s.account = &asAccount{conn: conn, creds: newTokens(s.env, conn)}
	return nil
}

// newServer builds the gRPC server: on the platform over mTLS with the
// access rules, standalone in plain text. Both have health and reflection.
func (s *Service) newServer() *grpcserver.Server {
	opts := grpcserver.Options{Logger: s.log, DrainTimeout: s.opts.drain}
	if s.certs != nil {
		a := access{namespace: s.env.Namespace}
		opts.TLS = s.certs.serverTLS(a.admitPeer)
		opts.Unary = []grpc.UnaryServerInterceptor{a.unary}
		opts.Stream = []grpc.StreamServerInterceptor{a.stream}
	}
	return grpcserver.New(opts)
}

// Run serves until the process gets SIGTERM or SIGINT, then stops as
// RunContext does, and returns nil after a clean stop.
func (s *Service) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return s.RunContext(ctx)
}

// RunContext serves until ctx ends. On the platform it registers the
// instance and keeps it registered; when ctx ends it deregisters first,
// keeps serving for the shutdown grace so that routing caches catch up,
// then drains the calls in flight and returns. It returns nil after a
// clean stop.
func (s *Service) RunContext(ctx context.Context) error {
	if err := errors.Join(s.err, s.reserved); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", s.env.Address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.env.Address, err)
	}
	if s.account != nil {
		defer s.account.conn.Close()
	}
	if err := s.serveHealth(ctx); err != nil {
		lis.Close()
		return err
	}
	if s.Standalone() {
		s.log.Info("serving standalone: plain gRPC, no registry, no platform", "mode", "standalone", "address", lis.Addr().String())
		return s.server.Serve(ctx, lis)
	}
	return s.servePlatform(ctx, lis)
}

// servePlatform serves on lis with the instance registered meanwhile.
func (s *Service) servePlatform(ctx context.Context, lis net.Listener) error {
	reg := &registration{
		client:  registryv1.NewRegistryServiceClient(*s.account),
		service: listing(s.env, advertised(lis.Addr()), s.descs),
		log:     s.log,
	}
	serving, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	served := make(chan error, 1)
	go func() { served <- s.server.Serve(serving, lis) }()
	kept := make(chan struct{})
	keeping, stopKeeping := context.WithCancel(ctx)
	defer stopKeeping()
	go func() { reg.keep(keeping); close(kept) }()
	s.log.Info("serving on the platform: mTLS, registered through the proxy", "mode", "platform",
		"namespace", s.env.Namespace, "address", lis.Addr().String(), "advertise", reg.node().GetAddress(), "proxy", s.env.Proxy)
	select {
	case <-ctx.Done():
	case err := <-served:
		stopKeeping()
		<-kept
		reg.remove()
		return err
	}
	<-kept
	return s.stop(reg, stopServing, served)
}

// stop takes the instance out of routing, then drains it: deregister,
// health NOT_SERVING, the shutdown grace, then a graceful stop.
func (s *Service) stop(reg *registration, stopServing func(), served <-chan error) error {
	s.log.Info("stopping: deregistering, then draining calls in flight")
	reg.remove()
	s.server.Health().Shutdown()
	timer := time.NewTimer(s.opts.grace)
	defer timer.Stop()
	select {
	case <-timer.C:
	case err := <-served:
		return err
	}
	stopServing()
	err := <-served
	s.log.Info("stopped")
	return err
}

// serveHealth serves health in plain text on MICRO_HEALTH_ADDRESS, for
// probes that hold no certificate, until ctx ends.
func (s *Service) serveHealth(ctx context.Context) error {
	if s.env.HealthAddress == "" {
		return nil
	}
	lis, err := net.Listen("tcp", s.env.HealthAddress)
	if err != nil {
		return fmt.Errorf("listen for health on %s: %w", s.env.HealthAddress, err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, s.server.Health())
	go srv.Serve(lis)
	context.AfterFunc(ctx, srv.Stop)
	s.log.Info("serving health in plain text", "health_address", lis.Addr().String())
	return nil
}

// advertised is the address the registry lists: the bound address, with
// an address of this host's in place of an unspecified one (":8080").
func advertised(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort(hostIP().String(), fmt.Sprint(tcp.Port))
}

// hostIP is the first global unicast address of this host, or loopback.
func hostIP() net.IP {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
			return n.IP
		}
	}
	return net.IPv4(127, 0, 0, 1)
}
