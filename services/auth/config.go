package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/mail"
)

// MaxAccessTTL is the longest an access token may live. It also bounds how
// long a retired signing key and a revocation must stay published.
const MaxAccessTTL = 24 * time.Hour

// Config tunes a Service. Start from DefaultConfig: a zero field means zero,
// not "the default".
type Config struct {
	// DataDir is where a generated admin password is written, as
	// <DataDir>/admin-password; required when AdminPassword is empty.
	DataDir string
	// AdminPassword is the bootstrap admin's password, used only when the
	// admin account does not exist yet; empty generates one.
	AdminPassword string
	// KeyEncryptionKey seals the signing keys in the store; required.
	KeyEncryptionKey *KeyEncryptionKey
	// AccessTTL is the default lifetime of an access token.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of each refresh token.
	RefreshTTL time.Duration
	// Hash is the cost of argon2id for new secrets.
	Hash HashParams
	// MaxFailures is how many failed logins one account may have in
	// FailureWindow before further attempts are refused.
	MaxFailures int
	// MaxAddressFailures is how many failed logins one client address may
	// have in FailureWindow, whatever the accounts, before further attempts
	// from it are refused.
	MaxAddressFailures int
	// FailureWindow is the period MaxFailures and MaxAddressFailures count
	// over.
	FailureWindow time.Duration
	// KeyPublishDelay is how long a new signing key is published before it
	// signs, so that every verifier has fetched it first; more than the
	// verifiers' poll interval.
	KeyPublishDelay time.Duration
	// KeyLifetime is how long a key signs before Run rotates it; zero never
	// rotates automatically.
	KeyLifetime time.Duration
	// RefreshInterval is how often Run reloads the keys and revocations in
	// full, which also retires keys whose tokens have all expired.
	RefreshInterval time.Duration
	// WatchInterval is how often Run looks in the store for changes other
	// replicas made: it bounds how late their revocations and rule changes
	// reach this replica's watchers. Changes made on this replica reach
	// them at once.
	WatchInterval time.Duration
	// Signup tunes sign-up's codes, tokens and limits.
	Signup SignupConfig
	// PublicAddress is the HOST:PORT users reach the platform's gRPC
	// proxy at, as 'micro env add' takes it. An invitation's email names
	// it; without it, the email asks the invitee to get it from the admin.
	PublicAddress string
}

// SignupConfig tunes sign-up.
type SignupConfig struct {
	// CodeTTL is how long a mailed code works.
	CodeTTL time.Duration
	// MaxCodeTries is how many times a code may be tried; the try after
	// the last is refused even with the right code.
	MaxCodeTries int
	// TokenTTL is how long a sign-up token works after Verify.
	TokenTTL time.Duration
	// SendsPerEmail is how many codes one email address may be sent in
	// SendWindow, whoever asks.
	SendsPerEmail int
	// SendsPerAddress is how many codes one client address may ask for in
	// SendWindow, whatever the email addresses.
	SendsPerAddress int
	// SendWindow is the period SendsPerEmail and SendsPerAddress count
	// over.
	SendWindow time.Duration
}

// DefaultSignup is sign-up's production settings: codes and tokens last
// an hour, a code takes 5 tries, and an email gets at most 3 codes, a
// client address 10, in 10 minutes.
var DefaultSignup = SignupConfig{
	CodeTTL: time.Hour, MaxCodeTries: 5, TokenTTL: time.Hour,
	SendsPerEmail: 3, SendsPerAddress: 10, SendWindow: 10 * time.Minute,
}

// validate reports the first sign-up setting that cannot work.
func (c SignupConfig) validate() error {
	if c.CodeTTL <= 0 || c.TokenTTL <= 0 || c.SendWindow <= 0 {
		return errors.New("sign-up code and token lifetimes and send window must be positive")
	}
	if c.MaxCodeTries < 1 || c.SendsPerEmail < 1 || c.SendsPerAddress < 1 {
		return errors.New("sign-up tries and sends must be at least 1")
	}
	return nil
}

// HashParams are argon2id's cost parameters.
type HashParams struct {
	// Time is the number of passes.
	Time uint32
	// MemoryKiB is the memory used, in KiB.
	MemoryKiB uint32
	// Threads is the parallelism.
	Threads uint8
}

// DefaultHash is OWASP's argon2id recommendation of 19 MiB and two passes.
var DefaultHash = HashParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{
		AccessTTL:          15 * time.Minute,
		RefreshTTL:         30 * 24 * time.Hour,
		Hash:               DefaultHash,
		MaxFailures:        5,
		MaxAddressFailures: 20,
		FailureWindow:      time.Minute,
		KeyPublishDelay:    time.Minute,
		KeyLifetime:        30 * 24 * time.Hour,
		RefreshInterval:    5 * time.Second,
		WatchInterval:      500 * time.Millisecond,
		Signup:             DefaultSignup,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.KeyEncryptionKey == nil:
		return errors.New("a key-encryption key is required: the token signing keys are kept in the store sealed under it")
	case c.AdminPassword == "" && c.DataDir == "":
		return errors.New("a data dir is required to keep a generated admin password")
	case c.AdminPassword != "" && CheckNewSecret(c.AdminPassword) != nil:
		return fmt.Errorf("admin password %v", CheckNewSecret(c.AdminPassword))
	case c.AccessTTL <= 0 || c.AccessTTL > MaxAccessTTL:
		return fmt.Errorf("access token lifetime %s must be positive and at most %s", c.AccessTTL, MaxAccessTTL)
	case c.RefreshTTL < c.AccessTTL:
		return fmt.Errorf("refresh token lifetime %s must be at least the access token lifetime", c.RefreshTTL)
	case c.Hash.Time < 1 || c.Hash.MemoryKiB < 8*uint32(c.Hash.Threads) || c.Hash.Threads < 1:
		return fmt.Errorf("argon2id parameters %+v are out of range", c.Hash)
	case c.MaxFailures < 1 || c.MaxAddressFailures < 1 || c.FailureWindow <= 0:
		return errors.New("login failure limits and window must be positive")
	case c.KeyPublishDelay < 0 || c.KeyLifetime < 0:
		return errors.New("key publish delay and lifetime must not be negative")
	case c.RefreshInterval <= 0 || c.WatchInterval <= 0:
		return errors.New("refresh and watch intervals must be positive")
	}
	if c.PublicAddress != "" {
		if err := CheckPublicAddress(c.PublicAddress); err != nil {
			return err
		}
	}
	return c.Signup.validate()
}

// Deps are what a Service needs from the process it runs in.
type Deps struct {
	// Store reaches the store service as micro/auth.
	Store Store
	// Logger receives the service's logs.
	Logger *slog.Logger
	// Out receives a generated admin password, once; nil discards it, so
	// only the file keeps it.
	Out io.Writer
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Metrics receives the service's own metrics, such as
	// m3o_auth_lockouts_total; nil keeps them unregistered.
	Metrics prometheus.Registerer
	// Mail sends sign-up codes; nil turns sign-up off.
	Mail mail.Sender
	// Billing reaches the billing service as micro/auth, for sign-up's
	// payment and subscription; nil turns sign-up off.
	Billing Billing
	// Quotas, when set, is told of every new tenant namespace, so that
	// the runtime records the platform's default quota for it;
	// runtimev1.RuntimeServiceClient over a micro/auth connection is one.
	Quotas Quotas
}

// Quotas is the runtime's call that gives a new namespace the platform's
// default quota.
type Quotas interface {
	SetQuota(ctx context.Context, in *runtimev1.SetQuotaRequest, opts ...grpc.CallOption) (*runtimev1.SetQuotaResponse, error)
}

// CheckPublicAddress reports why address cannot be the address users
// reach the platform at: it must be a HOST:PORT whose host names one
// machine, not the address that listens on every interface.
func CheckPublicAddress(address string) error {
	host, port, err := net.SplitHostPort(address)
	if ip := net.ParseIP(host); err != nil || host == "" || port == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("public address %q is not a HOST:PORT that users can reach: invitations give it to them", address)
	}
	return nil
}
