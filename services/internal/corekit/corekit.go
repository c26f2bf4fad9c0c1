// Package corekit gives every core service process one shape. A service
// package exposes, in its <service>server package, a Config of its own
// settings with Validate, and one entry point:
//
//	func Run(ctx context.Context, cfg Config, p *corekit.Process) error
//
// The Process is everything around the service that is the same for all:
// its mTLS certificate, its listeners, the addresses of the core services
// it calls, the token keys that verify its callers, its logger. A
// standalone binary (services/cmd/<service>) gets its Process from Main,
// which parses the common flags; `micro server` builds one Process per
// service from its own certificates and loopback listeners, and calls the
// same Run. So production and the all-in-one server wire every service the
// same way.
//
// Process.Serve serves a service's gRPC API over mTLS with the platform's
// interceptors and identity checks, a plain-text health-only listener for
// probes that speak no TLS, the service's background loops, and its entry in
// the registry's micro domain, kept alive while it serves.
package corekit

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/platform"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid configuration")

// Spec describes one kind of core service process.
type Spec struct {
	// Name is the core service: its identity is micro/<Name> and its
	// environment variables start MICRO_<NAME>_.
	Name string
	// Peers are the core services it calls besides auth (for token keys)
	// and the registry (to list itself); each gets a --<peer>-address flag.
	Peers []string
	// Renamed maps a flag's old name to its new one. The old name still
	// works, flag and environment variable alike, for one release, and a
	// warning says to move.
	Renamed map[string]string
	// Preflight, when set, checks the service's own flags before the
	// process opens, so that a mistake in them is named before a
	// certificate or listener error could hide it.
	Preflight func(c *cli.Context) error
}

// peers returns every core service the process may dial. Every service
// takes auth's and the registry's addresses, the same flags everywhere:
// auth ignores its own for token keys, and the registry lists itself
// through its own API.
func (s Spec) peers() []string {
	out := slices.Clone(s.Peers)
	for _, always := range []string{platform.Auth, platform.Registry} {
		if !slices.Contains(out, always) {
			out = append(out, always)
		}
	}
	return out
}

// Peers maps a core service's name to the address it is reached at.
type Peers map[string]string

// Config is the part of every core service's configuration that is the
// same for all of them.
type Config struct {
	// Address is where the gRPC API listens, host:port.
	Address string
	// HealthAddress, when set, serves plain-text gRPC health only, for
	// probes that cannot present a client certificate.
	HealthAddress string
	// AdvertiseAddress is where other services reach this one, as listed in
	// the registry; empty derives it from Address.
	AdvertiseAddress string
	// CAFile, CertFile and KeyFile are the platform CA and this service's
	// certificate (micro/<name>) and key, PEM.
	CAFile, CertFile, KeyFile string
	// Peers are the core services this one calls. Without auth's address
	// only callers identified by mTLS get through; without the registry's
	// the service is not listed.
	Peers Peers
	// LogFormat is "json" or "text", and LogLevel "debug", "info", "warn"
	// or "error".
	LogFormat, LogLevel string
}

// Validate checks that the configuration is complete and well formed.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		errs = append(errs, fmt.Errorf("address %q is not host:port", c.Address))
	}
	for name, addr := range map[string]string{"health address": c.HealthAddress, "advertise address": c.AdvertiseAddress} {
		if _, _, err := net.SplitHostPort(addr); addr != "" && err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not host:port", name, addr))
		}
	}
	if c.CAFile == "" || c.CertFile == "" || c.KeyFile == "" {
		errs = append(errs, errors.New("the CA, certificate and key files are all required: every hop is mTLS"))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Peers)) {
		if addr := c.Peers[name]; addr != "" {
			if _, err := grpcclient.SplitReplicas(addr); err != nil {
				errs = append(errs, fmt.Errorf("%s address: %w (a list of replicas is comma-separated)", name, err))
			}
		}
	}
	return ConfigError(errs...)
}

// ConfigError joins what is wrong with a configuration into one error
// wrapping ErrConfig, or returns nil when errs holds none.
func ConfigError(errs ...error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}
