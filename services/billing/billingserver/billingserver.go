// Package billingserver runs the billing service in a core service process
// (see corekit): BillingService over mTLS, its state kept in the store
// service as micro/billing, cards and subscriptions at the payment provider
// it is given. services/cmd/billing runs it on its own; `micro server` runs
// it beside the others.
package billingserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/billing"
	"m3o.dev/services/internal/corekit"
)

// Spec describes the billing service's process: it keeps its state in the
// store.
var Spec = corekit.Spec{
	Name:  platform.Billing,
	Peers: []string{platform.Store},
}

// Config is what the billing service needs besides its process.
type Config struct {
	// Provider takes the cards and bills the subscriptions.
	Provider billing.Provider
	// PublicURL is the proxy's HTTP address as users open it; the
	// subscribe page is PublicURL/subscribe.
	PublicURL string
	// PollInterval is how often status watches look for changes made
	// through other replicas; 0 means billing.DefaultPollInterval.
	PollInterval time.Duration
}

// Validate checks that the configuration is complete and consistent.
func (c Config) Validate() error {
	var errs []error
	if c.Provider == nil {
		errs = append(errs, errors.New("no payment provider"))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public URL %q is not an http or https URL: it is the subscribe page's address", c.PublicURL))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll interval %s is negative", c.PollInterval))
	}
	return corekit.ConfigError(errs...)
}

// Run serves the billing service in p until ctx ends. It does not wait for
// auth: until auth's keys arrive, only callers identified by mTLS get
// through.
func Run(ctx context.Context, cfg Config, p *corekit.Process) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	store, err := p.DialStore()
	if err != nil {
		return fmt.Errorf("run billing: %w", err)
	}
	svc, err := billing.New(billing.Options{
		Store: store, Provider: cfg.Provider, PublicURL: cfg.PublicURL,
		Logger: p.Logger, PollInterval: cfg.PollInterval,
	})
	if err != nil {
		return fmt.Errorf("run billing: %w", err)
	}
	p.Logger.Info("billing provider", "provider", cfg.Provider.Name(), "public_url", cfg.PublicURL)
	return p.Serve(ctx, svc.Register, corekit.ServeOptions{})
}
