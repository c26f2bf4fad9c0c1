// Package configserver runs the config service in a core service process
// (see corekit): ConfigService over mTLS, its documents kept in the store
// service as micro/config, secrets sealed with the keyring it is given.
// services/cmd/config runs it on its own; `micro server` runs it beside the
// others.
package configserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/config"
	"m3o.dev/services/internal/corekit"
)

// Spec describes the config service's process: it keeps its documents in
// the store. Its certificate flags were --tls-ca-file, --tls-cert-file and
// --tls-key-file; those names still work for one release.
var Spec = corekit.Spec{
	Name:  platform.Config,
	Peers: []string{platform.Store},
	Renamed: map[string]string{
		"tls-ca-file": "ca-file", "tls-cert-file": "cert-file", "tls-key-file": "key-file",
	},
}

// Config is what the config service needs besides its process.
type Config struct {
	// Keyring seals and opens secrets.
	Keyring *config.Keyring
	// PollInterval is how often watchers look for changes made through
	// other replicas; 0 means config.DefaultPollInterval.
	PollInterval time.Duration
}

// Validate checks that the configuration is complete and consistent.
func (c Config) Validate() error {
	var errs []error
	if c.Keyring == nil {
		errs = append(errs, errors.New("no keyring to seal secrets with"))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll interval %s is negative", c.PollInterval))
	}
	return corekit.ConfigError(errs...)
}

// Run serves the config service in p until ctx ends. It does not wait for
// auth: until auth's keys arrive, only callers identified by mTLS get
// through.
func Run(ctx context.Context, cfg Config, p *corekit.Process) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	store, err := p.DialStore()
	if err != nil {
		return fmt.Errorf("run config: %w", err)
	}
	svc, err := config.New(config.Options{
		Store: store, Keyring: cfg.Keyring,
		Logger: p.Logger, PollInterval: cfg.PollInterval,
	})
	if err != nil {
		return fmt.Errorf("run config: %w", err)
	}
	p.Logger.Info("config keyring loaded", "keyring", cfg.Keyring)
	return p.Serve(ctx, svc.Register, corekit.ServeOptions{})
}
