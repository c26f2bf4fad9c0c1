package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/observe"
	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/proxy"
)

// rulesRefresh is how often the proxy refetches the rules it has cached.
const rulesRefresh = 5 * time.Second

// backendPackages maps each core API to the service that serves it.
var backendPackages = map[string]string{
	"m3o.store.v1":    svcStore,
	"m3o.registry.v1": svcRegistry,
	"m3o.auth.v1":     svcAuth,
	"m3o.config.v1":   svcConfig,
}

// startPublic runs the proxy on the public gRPC address and the gateway,
// health and metrics on the public HTTP address.
func (p *platform) startPublic() error {
	px, err := p.newProxy()
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(p.cfg.Address)
	bundle, err := p.pki.bundle(svcProxy, publicHosts(host)...)
	if err != nil {
		return err
	}
	srv := grpcserver.New(grpcserver.Options{
		TLS:           mtls.ServerOnlyConfig(bundle.Cert),
		Logger:        p.log.With("service", svcProxy),
		DrainTimeout:  p.cfg.DrainTimeout,
		ServerOptions: px.ServerOptions(),
	})
	lis, err := net.Listen("tcp", p.cfg.Address)
	if err != nil {
		return fmt.Errorf("listen on the public address: %w", err)
	}
	p.grpcAddr = lis.Addr().String()
	p.group.Go(func() error { return srv.Serve(p.ctx, lis) })
	return p.startHTTP(srv)
}

func (p *platform) newProxy() (*proxy.Proxy, error) {
	backends := make(map[string]*grpc.ClientConn, len(backendPackages))
	for pkg, svc := range backendPackages {
		conn, err := p.dial(svcProxy, svc)
		if err != nil {
			return nil, err
		}
		backends[pkg] = conn
	}
	conn, err := p.dial(svcRouter, svcAuth)
	if err != nil {
		return nil, err
	}
	log := p.log.With("service", svcProxy)
	cache := rules.NewCache(authv1.NewRulesServiceClient(conn), log, rulesRefresh)
	p.run(cache.Run)
	return proxy.New(proxy.Config{
		Verifier:   p.keys.Verifier(),
		Authorizer: proxy.NewRulesAuthorizer(cache),
		Backends:   backends,
		Limits:     p.cfg.RateLimit,
		Logger:     log,
	}), nil
}

// publicHosts are the names the proxy's certificate must carry besides
// loopback, so clients can check it against the address they dial.
func publicHosts(host string) []string {
	if host == "" || net.ParseIP(host).IsUnspecified() {
		return nil
	}
	return []string{host}
}

// startHTTP serves the JSON gateway, which calls the public gRPC port like
// any client so HTTP meets the same checks, plus /healthz and /metrics.
func (p *platform) startHTTP(grpcSrv *grpcserver.Server) error {
	gateway, err := p.gateway()
	if err != nil {
		return err
	}
	obs := observe.Handler(grpcSrv.Gatherer(), nil)
	mux := http.NewServeMux()
	mux.Handle("/v1/", gateway)
	mux.Handle("/healthz", obs)
	mux.Handle("/metrics", obs)

	lis, err := net.Listen("tcp", p.cfg.HTTPAddress)
	if err != nil {
		return fmt.Errorf("listen on the HTTP address: %w", err)
	}
	p.httpAddr = lis.Addr().String()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	p.group.Go(func() error { return serveHTTP(p.ctx, srv, lis, p.cfg.DrainTimeout) })
	return nil
}

func (p *platform) gateway() (http.Handler, error) {
	creds := credentials.NewTLS(mtls.ClientRootsConfig(p.pki.ca.Pool(), "127.0.0.1"))
	conn, err := grpc.NewClient(loopback(p.grpcAddr), grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("connect the gateway to the proxy: %w", err)
	}
	p.conns = append(p.conns, conn)
	return proxy.NewGateway(p.ctx, conn)
}

// loopback turns a listening address into one this process can dial.
func loopback(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return net.JoinHostPort("127.0.0.1", port)
}

// serveHTTP serves until ctx ends, then shuts down within drain.
func serveHTTP(ctx context.Context, srv *http.Server, lis net.Listener, drain time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	if drain <= 0 {
		drain = grpcserver.DefaultDrainTimeout
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
