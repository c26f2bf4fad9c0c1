// Package proxyserver wires the public proxy into a process: it loads the
// proxy's two certificates, connects to the core services over mTLS, keeps
// the token keys and the namespace rules current from the auth service,
// and serves the public gRPC port, the JSON gateway, /healthz and /metrics.
//
// The proxy holds two platform identities. micro/proxy is its server
// certificate on the public port and the client certificate it relays
// calls with; the services it relays to treat a call from micro/proxy as
// anonymous unless it carries the caller's own token. micro/router is what
// it looks up rules and keys with, on its own behalf.
//
// services/cmd/proxy runs Run on its own; `micro server` builds Options
// from its own PKI and connections and calls New and Serve.
package proxyserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/logging"
	"m3o.dev/pkg/mtls"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/tokenkeys"
	"m3o.dev/services/proxy"
)

// ErrConfig is wrapped by every Config.Validate error and by a certificate
// of the wrong identity.
var ErrConfig = errors.New("invalid proxy configuration")

// The identities the proxy holds.
var (
	// Self is the identity of the proxy's server and relaying certificate.
	Self = identity.ProxyIdentity
	// Router is the identity the proxy looks up rules and keys with.
	Router = mtls.Identity{Namespace: identity.PlatformNamespace, Service: "router"}
)

// Config is everything a proxy process needs.
type Config struct {
	// Address is the public gRPC address, host:port.
	Address string
	// HTTPAddress is the public HTTP address of the JSON gateway,
	// /healthz and /metrics, host:port.
	HTTPAddress string
	// CAFile is the platform CA; CertFile and KeyFile are the proxy's
	// certificate (micro/proxy) and key, PEM.
	CAFile, CertFile, KeyFile string
	// RouterCertFile and RouterKeyFile are the certificate (micro/router)
	// and key the proxy looks up rules and keys with, PEM.
	RouterCertFile, RouterKeyFile string
	// StoreAddress, RegistryAddress, AuthAddress and ConfigAddress are the
	// core services, host:port.
	StoreAddress, RegistryAddress, AuthAddress, ConfigAddress string
	// RateLimit is the per-account limit.
	RateLimit proxy.RateLimit
	// LogFormat is "json" or "text", and LogLevel "debug", "info", "warn"
	// or "error"; see logging.New.
	LogFormat, LogLevel string
}

// Validate checks that the configuration is complete and consistent.
func (c Config) Validate() error {
	var errs []error
	for _, a := range c.addresses() {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", a.name, a.addr, err))
		}
	}
	if c.CAFile == "" || c.CertFile == "" || c.KeyFile == "" {
		errs = append(errs, errors.New("the CA, certificate and key files are all required: the public port serves TLS and every hop is mTLS"))
	}
	if c.RouterCertFile == "" || c.RouterKeyFile == "" {
		errs = append(errs, errors.New("the router certificate and key files are required: the relaying identity may not look up rules"))
	}
	if c.RateLimit.PerSecond < 0 {
		errs = append(errs, fmt.Errorf("rate limit %v is negative", c.RateLimit.PerSecond))
	}
	if c.RateLimit.PerSecond > 0 && c.RateLimit.Burst < 1 {
		errs = append(errs, fmt.Errorf("rate burst %d lets no call through; it must be at least 1", c.RateLimit.Burst))
	}
	if _, err := logging.New(io.Discard, c.LogFormat, c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

// addresses names every address of c, in the order errors report them.
func (c Config) addresses() []struct{ name, addr string } {
	return []struct{ name, addr string }{
		{"address", c.Address}, {"http address", c.HTTPAddress},
		{"store address", c.StoreAddress}, {"registry address", c.RegistryAddress},
		{"auth address", c.AuthAddress}, {"config address", c.ConfigAddress},
	}
}

// coreAddress returns the address of the core service name.
func (c Config) coreAddress(name string) string {
	return map[string]string{
		"store": c.StoreAddress, "registry": c.RegistryAddress, "auth": c.AuthAddress, "config": c.ConfigAddress,
	}[name]
}

// Run serves the proxy described by cfg until ctx ends. It does not wait
// for the core services: calls fail with Unavailable until they answer,
// and /healthz reports not ready until the token keys have been fetched.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	self, router, err := cfg.loadBundles()
	if err != nil {
		return fmt.Errorf("run proxy: %w", err)
	}
	backends, err := dialBackends(cfg, self)
	if err != nil {
		return fmt.Errorf("run proxy: %w", err)
	}
	defer closeAll(backends)
	rulesConn, err := grpcclient.Dial(cfg.AuthAddress, router, tokenkeys.AuthIdentity)
	if err != nil {
		return fmt.Errorf("run proxy: %w", err)
	}
	defer rulesConn.Close()
	keys, err := tokenkeys.Start(ctx, cfg.AuthAddress, router, tokenkeys.Options{Logger: logger})
	if err != nil {
		return fmt.Errorf("run proxy: %w", err)
	}
	defer keys.Close()
	grpcLis, httpLis, err := cfg.listen()
	if err != nil {
		return fmt.Errorf("run proxy: %w", err)
	}
	return New(Options{
		Bundle: self, Backends: backends, Rules: authv1.NewRulesServiceClient(rulesConn),
		Verifier: keys.Verifier(), Ready: keys.Ready, RateLimit: cfg.RateLimit, Logger: logger,
	}).Serve(ctx, grpcLis, httpLis)
}

// loadBundles loads the proxy's two certificates and checks that each is
// the identity it will be used as.
func (c Config) loadBundles() (self, router *mtls.Bundle, err error) {
	if self, err = mtls.LoadBundle(c.CAFile, c.CertFile, c.KeyFile); err != nil {
		return nil, nil, err
	}
	if router, err = mtls.LoadBundle(c.CAFile, c.RouterCertFile, c.RouterKeyFile); err != nil {
		return nil, nil, err
	}
	if self.Identity != Self {
		return nil, nil, fmt.Errorf("certificate is %s, want %s: %w", self.Identity, Self, ErrConfig)
	}
	if router.Identity != Router {
		return nil, nil, fmt.Errorf("router certificate is %s, want %s: %w", router.Identity, Router, ErrConfig)
	}
	return self, router, nil
}

// dialBackends connects, as bundle's identity, to the service of each
// package of CorePackages, checking that it is who it should be.
func dialBackends(cfg Config, bundle *mtls.Bundle) (map[string]*grpc.ClientConn, error) {
	backends := make(map[string]*grpc.ClientConn, len(CorePackages))
	for pkg, name := range CorePackages {
		conn, err := grpcclient.Dial(cfg.coreAddress(name), bundle, mtls.Identity{Namespace: identity.PlatformNamespace, Service: name})
		if err != nil {
			closeAll(backends)
			return nil, err
		}
		backends[pkg] = conn
	}
	return backends, nil
}

func closeAll(conns map[string]*grpc.ClientConn) {
	for _, c := range conns {
		c.Close()
	}
}

// listen opens the public gRPC and HTTP listeners.
func (c Config) listen() (grpcLis, httpLis net.Listener, err error) {
	if grpcLis, err = net.Listen("tcp", c.Address); err != nil {
		return nil, nil, err
	}
	if httpLis, err = net.Listen("tcp", c.HTTPAddress); err != nil {
		grpcLis.Close()
		return nil, nil, err
	}
	return grpcLis, httpLis, nil
}
