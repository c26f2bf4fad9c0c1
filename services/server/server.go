// Package server runs the whole platform in one process: `micro server`.
//
// On first start it creates, under the data dir, the platform CA and every
// service certificate, the runtime's workload CA, the config encryption
// key, the embedded etcd data and the Pebble store; the JWT signing keys
// live in the auth service's own system database there, sealed under a
// key-encryption key that is kept apart from the store, in
// <data-dir>/auth-key-encryption-key (mode 0600). It then runs store,
// registry, auth, config, the runtime, billing and the public proxy, each
// on its own loopback listener with mTLS between them exactly as in
// production, bootstraps the admin account and prints one ready line.
// Sign-up codes go through the SMTP server Config.Mail names, or, without
// one, into <data-dir>/outbox, as a line printed at start says.
// Cancelling the context drains every server, stops the developers'
// services and closes the backends; a restart on the same data dir finds
// everything again and starts those services again.
//
// The runtime keeps its sandbox, builds and logs in a directory of its own
// outside the data dir (see DefaultRuntimeDir), which stays 0700.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/services/auth"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/billing/stripe"
	"m3o.dev/services/internal/mail"
	"m3o.dev/services/proxy"
)

// Store backends Config.Store may name.
const (
	StorePebble    = "pebble"
	StoreCockroach = "cockroach"
)

// Config is what `micro server` needs.
type Config struct {
	// DataDir holds every file of the platform.
	DataDir string
	// Address is the public gRPC address of the proxy, host:port.
	Address string
	// HTTPAddress is the public HTTP address: JSON gateway, health, metrics.
	HTTPAddress string
	// PublicAddress is the HOST:PORT users reach Address at, which
	// invitation mail names; empty is Address as it listens, unless it
	// listens on every interface.
	PublicAddress string
	// Store is StorePebble (embedded, in DataDir) or StoreCockroach.
	Store string
	// StoreDSN is the CockroachDB or PostgreSQL URL for StoreCockroach.
	StoreDSN string
	// EtcdEndpoints, when set, replace the embedded etcd.
	EtcdEndpoints []string
	// AdminPassword is the bootstrap admin's password on first start; empty
	// generates one, printed once and kept in <DataDir>/admin-password.
	AdminPassword string
	// QuotaBytes caps each tenant database of the store; 0 is no cap.
	QuotaBytes int64
	// RateLimit is the proxy's per-account limit.
	RateLimit proxy.RateLimit
	// MaxStreams bounds the streams one caller holds open through the
	// proxy; zero is no limit.
	MaxStreams int
	// TrustedProxies are the load balancers in front of the proxy whose
	// X-Forwarded-For is believed.
	TrustedProxies proxy.TrustedProxies
	// DrainTimeout bounds how long a stop waits for calls in flight.
	DrainTimeout time.Duration
	// RuntimeDir holds the runtime's sandbox, builds and logs; empty means
	// DefaultRuntimeDir(DataDir). It cannot be inside DataDir, which stays
	// 0700 so that no namespace's uid reads the platform's keys.
	RuntimeDir string
	// AllowLocalGit lets git sources be file:// URLs or hosts on loopback,
	// private or link-local addresses.
	AllowLocalGit bool
	// QuotaServices is how many services a namespace may run; 0 means the
	// runtime's default.
	QuotaServices int
	// ModuleCache, when set, is a Go module download cache
	// ($(go env GOMODCACHE)/cache/download) the runtime copies the SDK's
	// dependencies from, so that builds need no network for them.
	ModuleCache string
	// GoProxy and GoSumDB are the builds' GOPROXY after those copies and
	// their GOSUMDB; empty means the public ones, "off" none.
	GoProxy, GoSumDB string
	// Billing is the payment provider and how payments are gated.
	Billing Billing
	// Mail is where sign-up codes go.
	Mail Mail
}

// The environment variables of sign-up mail's secrets and extra trust,
// which `micro server` and the auth service both read.
const (
	// SMTPUsernameEnv and SMTPPasswordEnv hold the SMTP credentials.
	SMTPUsernameEnv = mail.UsernameEnv
	SMTPPasswordEnv = mail.PasswordEnv
	// SMTPCAFileEnv names a PEM file of a CA to trust for the SMTP
	// server's certificate.
	SMTPCAFileEnv = "MICRO_SMTP_CA_FILE"
	// DefaultMailFrom is the sender of sign-up mail when none is given.
	DefaultMailFrom = mail.DefaultFrom
)

// Mail configures how sign-up codes are sent.
type Mail struct {
	// SMTPAddress is the SMTP server's host:port, reached with STARTTLS;
	// empty writes each message to <DataDir>/outbox instead.
	SMTPAddress string
	// From is the sender's address; empty is mail.DefaultFrom.
	From string
	// Username and Password authenticate to the SMTP server.
	Username, Password string
	// CAFile is a PEM file of a CA to trust for the SMTP server's
	// certificate, besides the system's roots.
	CAFile string
}

// config is the mail configuration of a platform whose data is in dataDir.
func (m Mail) config(dataDir string) mail.Config {
	return mail.Config{
		SMTP:   mail.SMTPConfig{Address: m.SMTPAddress, From: m.From, Username: m.Username, Password: m.Password},
		CAFile: m.CAFile, DataDir: dataDir,
	}
}

// validate checks the mail settings.
func (m Mail) validate() []error {
	if _, _, err := net.SplitHostPort(m.SMTPAddress); m.SMTPAddress != "" && err != nil {
		return []error{fmt.Errorf("SMTP address %q is not host:port", m.SMTPAddress)}
	}
	return nil
}

// Payment providers Billing.Provider may name.
const (
	BillingLocal  = local.Name
	BillingStripe = stripe.Name
)

// Billing configures the billing service and the payment gate.
type Billing struct {
	// Provider is BillingLocal (test cards, the default) or BillingStripe.
	Provider string
	// PublicURL is the address users open the HTTP port at, for the
	// subscribe page's links; empty is http://<HTTPAddress>.
	PublicURL string
	// PaymentGrace is how long a past-due namespace keeps working.
	PaymentGrace time.Duration
	// Stripe is the stripe provider's settings.
	Stripe stripe.Options
}

// validate checks the billing settings.
func (b Billing) validate() []error {
	var errs []error
	switch b.Provider {
	case "", BillingLocal:
	case BillingStripe:
		if b.Stripe.Key == "" || b.Stripe.WebhookSecret == "" || b.Stripe.Price == "" {
			errs = append(errs, errors.New("--billing-provider stripe needs --stripe-price, and the API key and webhook secret in the environment"))
		}
	default:
		errs = append(errs, fmt.Errorf("billing provider %q is not %s or %s", b.Provider, BillingLocal, BillingStripe))
	}
	if b.PaymentGrace < 0 {
		errs = append(errs, fmt.Errorf("payment grace %s is negative", b.PaymentGrace))
	}
	return errs
}

// Validate checks the configuration before anything is created.
func (c Config) Validate() error {
	var errs []error
	for _, a := range []struct{ name, addr string }{{"address", c.Address}, {"http address", c.HTTPAddress}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not host:port", a.name, a.addr))
		}
	}
	if c.PublicAddress != "" {
		errs = append(errs, auth.CheckPublicAddress(c.PublicAddress))
	}
	if err := c.validateStore(); err != nil {
		errs = append(errs, err)
	}
	if c.QuotaBytes < 0 {
		errs = append(errs, fmt.Errorf("quota of %d bytes is negative", c.QuotaBytes))
	}
	if c.QuotaServices < 0 {
		errs = append(errs, fmt.Errorf("quota of %d services is negative", c.QuotaServices))
	}
	errs = append(errs, checkRuntimeDir(c.DataDir, c.RuntimeDir))
	errs = append(errs, c.Billing.validate()...)
	errs = append(errs, c.Mail.validate()...)
	return errors.Join(errs...)
}

// validateStore checks the data dir and the store settings, which are all
// that ResetAdmin needs.
func (c Config) validateStore() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("a data dir is required"))
	}
	switch c.Store {
	case StorePebble:
		if c.StoreDSN != "" {
			errs = append(errs, errors.New("a store DSN needs --store cockroach"))
		}
	case StoreCockroach:
		if c.StoreDSN == "" {
			errs = append(errs, errors.New("--store cockroach needs --store-dsn"))
		}
	default:
		errs = append(errs, fmt.Errorf("store %q is not %s or %s", c.Store, StorePebble, StoreCockroach))
	}
	return errors.Join(errs...)
}

// Platform is a running `micro server`.
type Platform struct {
	p *running
}

// Start creates what is missing in the data dir, starts every service and
// returns once the platform answers on its public addresses. It holds the
// data dir's lock until it has stopped, and fails with ErrRunning when
// another server holds it. A generated
// admin password is written to out, once. Cancelling ctx stops the
// platform; Wait then returns.
func Start(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer) (*Platform, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := tighten(cfg.DataDir); err != nil {
		return nil, err
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	p, err := start(ctx, cfg, logger, out, unlock)
	if err != nil {
		return nil, err
	}
	// Starting wrote certificates and keys; make sure of their modes too.
	if err := tighten(cfg.DataDir); err != nil {
		return nil, errors.Join(err, p.abort(err))
	}
	return &Platform{p: p}, nil
}

// GRPCAddress is where the public gRPC proxy listens.
func (p *Platform) GRPCAddress() string { return p.p.grpcAddr }

// HTTPAddress is where the JSON gateway, health and metrics listen.
func (p *Platform) HTTPAddress() string { return p.p.httpAddr }

// CAFile is the platform CA certificate that clients trust.
func (p *Platform) CAFile() string {
	cert, _ := mtls.CAFiles(p.p.cfg.DataDir)
	return cert
}

// Wait blocks until the platform has stopped and its backends are closed.
// It returns nil after a clean drain.
func (p *Platform) Wait() error { return p.p.wait() }
