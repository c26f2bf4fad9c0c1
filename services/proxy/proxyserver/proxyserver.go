// Package proxyserver runs the public proxy in a core service process (see
// corekit): gRPC with TLS on the public port, the JSON gateway, /healthz and
// /metrics on the HTTP port, the core services reached over mTLS, and the
// token keys and namespace rules kept current from the auth service.
//
// The proxy holds two platform identities. micro/proxy is its server
// certificate on the public port and the client certificate it relays
// calls with; the services it relays to treat a call from micro/proxy as
// anonymous unless it carries the caller's own token. micro/router is what
// it looks up rules with, and watches the registry's domains with to route
// to users' services, on its own behalf.
//
// services/cmd/proxy runs Run on its own; `micro server` runs it beside the
// other services with its own certificates and listeners.
package proxyserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/proxy"
)

// Spec describes the proxy's process: it relays to every core API whose
// address it is given.
var Spec = corekit.Spec{
	Name:  platform.Proxy,
	Peers: []string{platform.Store, platform.Config, platform.Runtime, platform.Billing},
}

// The identities the proxy holds.
var (
	// Self is the identity of the proxy's server and relaying certificate.
	Self = identity.ProxyIdentity
	// Router is the identity the proxy looks up rules with.
	Router = corekit.Identity(platform.Router)
)

// Config is what the proxy needs besides its process.
type Config struct {
	// HTTPListener serves the JSON gateway, /healthz and /metrics.
	HTTPListener net.Listener
	// Router is the certificate (micro/router) the proxy looks up rules
	// with.
	Router *mtls.Bundle
	// RateLimit is the per-account limit.
	RateLimit proxy.RateLimit
	// MaxStreams bounds the streams one caller holds open; zero is no
	// limit.
	MaxStreams int
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed.
	TrustedProxies proxy.TrustedProxies
	// DrainTimeout bounds how long a stop waits for calls in flight; zero
	// means the default.
	DrainTimeout time.Duration
	// PaymentGrace is how long a past-due namespace keeps working before
	// its calls are refused; with billing's address in the process's
	// Peers, the proxy gates payments and serves the subscribe page.
	PaymentGrace time.Duration
	// Metrics, when set, is what /metrics serves instead of the proxy's
	// own metrics: `micro server` passes the registry every one of its
	// services registers into, each under a service label.
	Metrics prometheus.Gatherer
}

// Validate checks that the configuration is complete and consistent.
func (c Config) Validate() error {
	var errs []error
	if c.HTTPListener == nil {
		errs = append(errs, errors.New("no HTTP listener"))
	}
	if c.Router == nil || c.Router.Identity != Router {
		errs = append(errs, fmt.Errorf("the router certificate must be %s: the relaying identity may not look up rules", Router))
	}
	if c.RateLimit.PerSecond < 0 {
		errs = append(errs, fmt.Errorf("rate limit %v is negative", c.RateLimit.PerSecond))
	}
	if c.PaymentGrace < 0 {
		errs = append(errs, fmt.Errorf("payment grace %s is negative", c.PaymentGrace))
	}
	if c.MaxStreams < 0 {
		errs = append(errs, fmt.Errorf("max streams %d is negative", c.MaxStreams))
	}
	if c.RateLimit.PerSecond > 0 && c.RateLimit.Burst < 1 {
		errs = append(errs, fmt.Errorf("rate burst %d lets no call through; it must be at least 1", c.RateLimit.Burst))
	}
	return corekit.ConfigError(errs...)
}

// Run serves the proxy in p until ctx ends. It does not wait for the core
// services: calls fail with Unavailable until they answer, and /healthz
// reports not ready until the token keys have been fetched.
func Run(ctx context.Context, cfg Config, p *corekit.Process) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	backends, err := dialBackends(p)
	if err != nil {
		return fmt.Errorf("run proxy: %w", err)
	}
	rulesConn, err := p.DialAs(cfg.Router, platform.Auth)
	if err != nil {
		return fmt.Errorf("run proxy: %w", err)
	}
	billing, err := dialBilling(p, cfg.Router)
	if err != nil {
		return fmt.Errorf("run proxy: %w", err)
	}
	registry, err := dialRegistry(p, cfg.Router)
	if err != nil {
		return fmt.Errorf("run proxy: %w", err)
	}
	srv := New(Options{
		Bundle: p.Bundle, Backends: backends, Rules: authv1.NewRulesServiceClient(rulesConn), Registry: registry,
		Verifier: p.Verifier(), Ready: p.KeysReady, RateLimit: cfg.RateLimit,
		MaxStreams: cfg.MaxStreams, TrustedProxies: cfg.TrustedProxies,
		DrainTimeout: cfg.DrainTimeout, Logger: p.Logger,
		Billing: billing, PaymentGrace: cfg.PaymentGrace,
		Registerer: p.Metrics, Gatherer: cfg.Metrics,
	})
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(ctx, p.Listener, cfg.HTTPListener) })
	g.Go(func() error { return p.ServeHealth(ctx, srv.Health()) })
	g.Go(func() error { p.AnnounceAs(ctx, cfg.Router); return nil })
	p.MarkReady()
	return g.Wait()
}

// dialBilling connects to billing as micro/router, the identity billing
// lets watch statuses, serve the subscribe page and relay webhooks; nil
// when the process has no billing address.
func dialBilling(p *corekit.Process, router *mtls.Bundle) (billingv1.BillingServiceClient, error) {
	if p.Peers[platform.Billing] == "" {
		return nil, nil
	}
	conn, err := p.DialAs(router, platform.Billing)
	if err != nil {
		return nil, err
	}
	return billingv1.NewBillingServiceClient(conn), nil
}

// dialRegistry connects to the registry as router, to route to users'
// services; without the registry's address the proxy routes to none.
func dialRegistry(p *corekit.Process, router *mtls.Bundle) (registryv1.RegistryServiceClient, error) {
	if p.Peers[platform.Registry] == "" {
		p.Logger.Warn("no registry address: calls to users' services will answer that none runs")
		return nil, nil
	}
	conn, err := p.DialAs(router, platform.Registry)
	if err != nil {
		return nil, err
	}
	return registryv1.NewRegistryServiceClient(conn), nil
}

// dialBackends connects, as micro/proxy, to every core API whose service
// address p knows, checking that each is who it should be.
func dialBackends(p *corekit.Process) (map[string]*grpc.ClientConn, error) {
	backends := make(map[string]*grpc.ClientConn)
	for _, s := range platform.CoreServices {
		if s.Package == "" || p.Peers[s.Name] == "" {
			continue
		}
		conn, err := p.Dial(s.Name)
		if err != nil {
			return nil, err
		}
		backends[s.Package] = conn
	}
	return backends, nil
}
