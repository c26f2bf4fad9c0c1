// Package authserver runs the auth service in a core service process (see
// corekit): m3o.auth.v1 over mTLS, its state kept in the store service as
// micro/auth, callers' tokens checked with the keys it signs with, and its
// maintenance loop (reloading keys and revocations, rotating the signing
// key) beside it. Sign-up mails its codes through SMTP, or into an outbox
// under the data dir, and calls billing as micro/auth. services/cmd/auth
// runs it on its own; `micro server` runs it beside the others.
package authserver

import (
	"context"
	"errors"
	"fmt"

	"m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/mail"
)

// Spec describes the auth service's process: it keeps its state in the
// store, verifies tokens itself, and calls billing for sign-up.
var Spec = corekit.Spec{Name: platform.Auth, Peers: []string{platform.Store, platform.Billing}}

// Config is what the auth service needs besides its process.
type Config struct {
	// DataDir keeps a generated admin password.
	DataDir string
	// AdminPassword is the bootstrap admin's password; empty generates one.
	AdminPassword string
	// KeyEncryptionKey seals the token signing keys in the store; required.
	KeyEncryptionKey *auth.KeyEncryptionKey
	// Mail is where sign-up codes go: an SMTP server, or without one the
	// outbox under DataDir, which is filled in when Mail names none.
	Mail mail.Config
	// PublicAddress is the HOST:PORT users reach the proxy's gRPC at,
	// which invitations name; empty, they ask the admin for it.
	PublicAddress string
}

// Validate checks that the configuration is complete.
func (c Config) Validate() error {
	if err := c.service().Validate(); err != nil {
		return fmt.Errorf("%w: %w", corekit.ErrConfig, err)
	}
	if c.DataDir == "" {
		return fmt.Errorf("%w: %w", corekit.ErrConfig, errors.New("a data dir is required"))
	}
	return nil
}

// service returns the auth.Config of c: the production defaults with the
// data dir, admin password, key-encryption key and public address.
func (c Config) service() auth.Config {
	cfg := auth.DefaultConfig()
	cfg.DataDir, cfg.AdminPassword, cfg.KeyEncryptionKey = c.DataDir, c.AdminPassword, c.KeyEncryptionKey
	cfg.PublicAddress = c.PublicAddress
	return cfg
}

// Run serves the auth service in p until ctx ends. It needs the store
// first: the keys and the bootstrap admin live there. A generated admin
// password is printed to p.Out.
func Run(ctx context.Context, cfg Config, p *corekit.Process) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	store, err := p.DialStore()
	if err != nil {
		return fmt.Errorf("run auth: %w", err)
	}
	deps := auth.Deps{Store: store, Logger: p.Logger, Out: p.Out, Metrics: p.Metrics}
	if err := signupDeps(cfg, p, &deps); err != nil {
		return fmt.Errorf("run auth: %w", err)
	}
	if p.Peers[platform.Runtime] != "" {
		// A new namespace's default quota is recorded with the runtime
		// where the runtime is known; elsewhere the runtime applies the
		// default to namespaces it has no record of.
		rt, err := p.Dial(platform.Runtime)
		if err != nil {
			return fmt.Errorf("run auth: %w", err)
		}
		deps.Quotas = runtimev1.NewRuntimeServiceClient(rt)
	}
	svc, err := auth.New(ctx, cfg.service(), deps)
	if err != nil {
		return fmt.Errorf("run auth: %w", err)
	}
	return p.Serve(ctx, svc.Register, corekit.ServeOptions{
		Authenticator: svc.Authenticator(),
		Background:    []func(context.Context){svc.Run},
	})
}

// signupDeps gives deps what sign-up needs: the mail sender cfg names, said
// once on p.Out, and billing when p knows its address. Without billing,
// sign-up answers that it is off.
func signupDeps(cfg Config, p *corekit.Process, deps *auth.Deps) error {
	mc := cfg.Mail
	if mc.DataDir == "" {
		mc.DataDir = cfg.DataDir
	}
	sender, where, err := mail.New(mc)
	if err != nil {
		return fmt.Errorf("sign-up mail: %w", err)
	}
	deps.Mail = sender
	if p.Out != nil {
		fmt.Fprintf(p.Out, "Sign-up: %s.\n", where)
	}
	if p.Peers[platform.Billing] == "" {
		p.Logger.Warn("no billing address: sign-up is off")
		return nil
	}
	conn, err := p.Dial(platform.Billing)
	if err != nil {
		return err
	}
	deps.Billing = billingv1.NewBillingServiceClient(conn)
	return nil
}
