package proxyserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/observe"
	"m3o.dev/pkg/rules"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/proxy"
)

// RulesRefresh is how often the proxy refetches the rules it has cached.
const RulesRefresh = 5 * time.Second

// Options are the parts of a public proxy, already loaded and connected:
// `micro server` builds them from its own PKI and listeners, Run from a
// Config.
type Options struct {
	// Bundle is the proxy's certificate, micro/proxy, which the public
	// port serves; the gateway checks it against Bundle's CA when it calls
	// that port.
	Bundle *mtls.Bundle
	// Backends maps the proto package of each core API to a connection,
	// made with the micro/proxy certificate, to the service that serves it.
	Backends map[string]*grpc.ClientConn
	// Rules reaches the auth service's RulesService with a certificate
	// that counts as a core service (micro/router): the relaying identity
	// micro/proxy is anonymous by design and may list no rules.
	Rules authv1.RulesServiceClient
	// Registry reaches the registry with a certificate that may read every
	// domain (micro/router), to route calls to users' services; nil routes
	// none, and calls to them answer that the service is not running.
	Registry registryv1.RegistryServiceClient
	// Verifier checks the callers' bearer tokens.
	Verifier *token.Verifier
	// Ready decides /healthz; nil is always ready.
	Ready func() error
	// RateLimit is the per-account limit.
	RateLimit proxy.RateLimit
	// MaxStreams bounds the streams one caller holds open.
	MaxStreams int
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed, for the gRPC port and the gateway alike.
	TrustedProxies proxy.TrustedProxies
	// DrainTimeout bounds how long a stop waits for calls in flight; zero
	// means grpcserver.DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Logger receives the servers' logs; nil discards them.
	Logger *slog.Logger
	// Billing reaches the billing service as micro/router, for the payment
	// gate's statuses, the subscribe page and webhooks; nil serves none of
	// them and gates nobody.
	Billing billingv1.BillingServiceClient
	// PaymentGrace is how long a past-due namespace keeps working.
	PaymentGrace time.Duration
	// Registerer receives the public server's metrics, and /metrics
	// serves Gatherer; with both nil the proxy keeps and serves a registry
	// of its own. A Registerer that is not a registry needs a Gatherer.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// Server is the public proxy: gRPC with server-only TLS on one listener,
// and the JSON gateway, /healthz and /metrics on another.
type Server struct {
	bundle  *mtls.Bundle
	rules   *rules.Cache
	nodes   *proxy.Nodes
	gate    *proxy.PaymentGate
	pages   *billingPages
	billing billingv1.BillingServiceClient
	grpc    *grpcserver.Server
	metrics prometheus.Gatherer // what /metrics serves
	ready   func() error
	drain   time.Duration
	log     *slog.Logger
}

// New assembles the proxy described by opts.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	drain := opts.DrainTimeout
	if drain <= 0 {
		drain = grpcserver.DefaultDrainTimeout
	}
	cache := rules.NewCache(opts.Rules, log, RulesRefresh)
	authz, gate, pages := withBilling(opts, proxy.NewRulesAuthorizer(cache), log)
	cfg := proxy.Config{
		Verifier:       opts.Verifier,
		Authorizer:     authz,
		Backends:       opts.Backends,
		Limits:         opts.RateLimit,
		MaxStreams:     opts.MaxStreams,
		TrustedProxies: opts.TrustedProxies,
		Logger:         log,
	}
	var nodes *proxy.Nodes
	if opts.Registry != nil {
		nodes = proxy.NewNodes(opts.Registry, opts.Bundle, log.With("component", "nodes"))
		cfg.Resolver = nodes
	}
	px := proxy.New(cfg)
	// Callers authenticate with bearer tokens, so the public port asks for
	// no client certificate; the CLI checks the platform's certificate.
	srv := grpcserver.New(grpcserver.Options{
		TLS:           mtls.PublicServerConfig(opts.Bundle.Cert, opts.Bundle.Roots),
		Logger:        log,
		DrainTimeout:  drain,
		ServerOptions: px.ServerOptions(),
		Registerer:    opts.Registerer,
	})
	return &Server{
		bundle: opts.Bundle, rules: cache, nodes: nodes, gate: gate, pages: pages, billing: opts.Billing,
		grpc: srv, metrics: cmp.Or(opts.Gatherer, srv.Gatherer()), ready: opts.Ready, drain: drain, log: log,
	}
}

// withBilling puts the payment gate after the rules and makes the
// subscribe page, when the proxy reaches billing.
func withBilling(opts Options, rules proxy.Authorizer, log *slog.Logger) (proxy.Authorizer, *proxy.PaymentGate, *billingPages) {
	if opts.Billing == nil {
		return rules, nil, nil
	}
	gate := proxy.NewPaymentGate(opts.PaymentGrace, log.With("component", "payment_gate"))
	return proxy.GatePayments(rules, gate), gate, &billingPages{billing: opts.Billing, log: log}
}

// Health returns the health service of the public gRPC server, which a
// plain-text health listener may serve too.
func (s *Server) Health() *health.Server { return s.grpc.Health() }

// Serve serves gRPC on grpcLis and HTTP on httpLis until ctx ends, keeping
// the rules fresh meanwhile, then drains both. It returns nil after a clean
// stop, or the first error that stopped either server early, and closes
// both listeners.
func (s *Server) Serve(ctx context.Context, grpcLis, httpLis net.Listener) error {
	gatewayConn, err := s.dialSelf(grpcLis.Addr())
	if err != nil {
		grpcLis.Close()
		httpLis.Close()
		return err
	}
	defer gatewayConn.Close()
	handler, err := s.httpHandler(ctx, gatewayConn)
	if err != nil {
		grpcLis.Close()
		httpLis.Close()
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { s.rules.Run(ctx); return nil })
	if s.gate != nil {
		g.Go(func() error { s.gate.Run(ctx, s.billing); return nil })
	}
	if s.nodes != nil {
		g.Go(func() error { s.nodes.Run(ctx); return nil })
	}
	g.Go(func() error { return s.grpc.Serve(ctx, grpcLis) })
	g.Go(func() error {
		srv := &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       time.Minute,
			IdleTimeout:       2 * time.Minute,
		}
		return serveHTTP(ctx, srv, httpLis, s.drain)
	})
	s.log.Info("proxy serving", "address", grpcLis.Addr().String(), "http_address", httpLis.Addr().String())
	return g.Wait()
}

// httpHandler routes the JSON gateway under /v1/, /healthz and /metrics of
// the gRPC server, and with billing the subscribe page and webhooks.
func (s *Server) httpHandler(ctx context.Context, gatewayConn *grpc.ClientConn) (http.Handler, error) {
	gateway, err := proxy.NewGateway(ctx, gatewayConn)
	if err != nil {
		return nil, err
	}
	obs := observe.Handler(s.metrics, observe.LoggedReady(s.ready, s.log))
	mux := http.NewServeMux()
	mux.HandleFunc("/", proxy.NoAPI)
	mux.Handle("/v1/", proxy.LimitBodies(gateway))
	mux.Handle("/healthz", obs)
	mux.Handle("/metrics", obs)
	if s.pages != nil {
		s.pages.mount(mux)
	}
	return mux, nil
}

// dialSelf connects the gateway to the public gRPC port of this process,
// so that HTTP callers meet exactly the checks gRPC callers do. It trusts
// the platform CA and the identity micro/proxy rather than a host name, so
// the certificate need not name the loopback address.
func (s *Server) dialSelf(addr net.Addr) (*grpc.ClientConn, error) {
	// The gateway presents the proxy's certificate, which is how the proxy
	// knows to believe the client address the gateway forwards; it is
	// otherwise a caller like any other, with the HTTP caller's token.
	tlsConfig := s.bundle.ClientConfig(s.bundle.Identity)
	conn, err := grpc.NewClient(selfAddress(addr), grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		return nil, fmt.Errorf("connect the gateway to the proxy: %w", err)
	}
	return conn, nil
}

// selfAddress turns a listener's address into one this process can dial:
// loopback in place of an unspecified host such as ":8081".
func selfAddress(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
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
