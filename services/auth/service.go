package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/periodic"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/mail"
	"m3o.dev/services/internal/storeclient"
)

// Service is the auth service. Its handlers live on four small types, one
// per gRPC service of m3o.auth.v1, that share it.
type Service struct {
	cfg         Config
	kv          *storeclient.Client
	logger      *slog.Logger
	out         io.Writer
	now         func() time.Time
	hasher      *hasher
	limiter     *loginLimiter
	keys        *KeyManager
	revocations *revocations
	verifier    *token.Verifier
	quotas      Quotas

	// The mail that sign-up and password reset send codes by, nil
	// without one; sign-up's billing, nil when sign-up is off; each one's
	// limiter of sends per client address; the codes being mailed, which
	// Run waits for when it returns.
	mail         mail.Sender
	billing      Billing
	sendLimiter  *failureLimiter
	resetLimiter *failureLimiter
	mailing      sync.WaitGroup

	// What watchers are woken by, and where this replica stands in the
	// change logs of the others (see changes.go).
	tokenWatch *broadcast
	ruleWatch  ruleHub
	seen       seenChanges
	// stopping is closed when Run returns, which ends every watch so that
	// the server's drain need not wait for them.
	stopping chan struct{}
	stopOnce sync.Once
}

// New returns a Service over the store in deps. It loads the signing keys
// and revocations, creating the first key if there is none, and bootstraps
// the micro namespace and its admin account on first start.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth config: %w", err)
	}
	if deps.Store == nil {
		return nil, errors.New("auth: no store client")
	}
	s := &Service{
		cfg: cfg, kv: storeclient.New(deps.Store, database), logger: deps.Logger, out: deps.Out, now: deps.Clock,
		mail: deps.Mail, billing: deps.Billing, quotas: deps.Quotas,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.assemble(deps.Metrics); err != nil {
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// load brings a new replica up to date with the store: it follows the
// change logs, loads keys and revocations, bootstraps micro on first start
// and indexes the emails of accounts older than the email index.
func (s *Service) load(ctx context.Context) error {
	if err := s.startFollowing(ctx); err != nil {
		return err
	}
	if err := s.reload(ctx); err != nil {
		return err
	}
	if err := s.bootstrap(ctx); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := s.indexExistingEmails(ctx); err != nil {
		return fmt.Errorf("index the emails of existing accounts: %w", err)
	}
	return nil
}

// assemble builds the parts of s that its configuration decides.
func (s *Service) assemble(metrics prometheus.Registerer) error {
	h, err := newHasher(s.cfg.Hash)
	if err != nil {
		return err
	}
	s.hasher = h
	s.limiter = newLoginLimiter(s.cfg, s.now, s.logger, metrics)
	s.sendLimiter = newFailureLimiter(s.cfg.Signup.SendsPerAddress, s.cfg.Signup.SendWindow, s.now)
	s.resetLimiter = newFailureLimiter(s.cfg.Signup.SendsPerAddress, s.cfg.Signup.SendWindow, s.now)
	s.keys = newKeyManager(s.kv, s.cfg.KeyEncryptionKey, s.now, s.cfg.KeyPublishDelay, s.logger)
	s.keys.changed = s.tokensChanged
	s.revocations = newRevocations(s.kv, s.now)
	s.verifier = token.NewVerifier(s.keys.KeySet(), token.WithClock(s.now), token.WithRevocationCheck(s.revocations.check))
	s.tokenWatch, s.stopping = newBroadcast(), make(chan struct{})
	return nil
}

// Register registers every service of m3o.auth.v1 on r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	authv1.RegisterAuthServiceServer(r, &authServer{s: s})
	authv1.RegisterAccountsServiceServer(r, &accountsServer{s: s})
	authv1.RegisterRulesServiceServer(r, &rulesServer{s: s})
	authv1.RegisterInviteServiceServer(r, &inviteServer{s: s})
	authv1.RegisterNamespacesServiceServer(r, &namespacesServer{s: s})
	authv1.RegisterSignupServiceServer(r, &signupServer{s: s})
}

// Authenticator returns the authenticator for the auth service's own
// server: it verifies bearer tokens with the service's keys and consults
// revocations directly, and lets the public methods through without one.
func (s *Service) Authenticator() *identity.Authenticator {
	return identity.NewAuthenticator(s.verifier,
		identity.WithLogger(s.logger),
		identity.WithPublicMethods(
			authv1.AuthService_Token_FullMethodName,
			authv1.AuthService_PublicKeys_FullMethodName,
			authv1.AuthService_WatchPublicKeys_FullMethodName,
			authv1.AuthService_SendPasswordReset_FullMethodName,
			authv1.AuthService_ResetPassword_FullMethodName,
			authv1.SignupService_SendVerificationEmail_FullMethodName,
			authv1.SignupService_Verify_FullMethodName,
			authv1.SignupService_StartPayment_FullMethodName,
			authv1.SignupService_PaymentStatus_FullMethodName,
			authv1.SignupService_CompleteSignup_FullMethodName,
		))
}

// Keys returns the key manager, whose Rotate starts a key rotation.
func (s *Service) Keys() *KeyManager { return s.keys }

// Verifier returns the verifier the service checks tokens with.
func (s *Service) Verifier() *token.Verifier { return s.verifier }

// Run keeps the replica current until ctx is done: every WatchInterval it
// follows the change logs and pushes what other replicas changed to its
// watchers; every RefreshInterval it reloads the keys and revocations in
// full and rotates the signing key when it is older than KeyLifetime. When
// it returns, every watch ends, and the codes being mailed have gone out.
func (s *Service) Run(ctx context.Context) {
	defer s.mailing.Wait()
	defer s.stopOnce.Do(func() { close(s.stopping) })
	var wg sync.WaitGroup
	wg.Go(func() {
		periodic.Every(ctx, s.cfg.WatchInterval, s.logger, "follow other replicas' changes", s.pollChanges)
	})
	periodic.Every(ctx, s.cfg.RefreshInterval, s.logger, "refresh keys and revocations", s.maintain)
	wg.Wait()
}

// maintain is one round of Run.
func (s *Service) maintain(ctx context.Context) error {
	if err := s.reload(ctx); err != nil {
		return err
	}
	// Keys retire with time; watchers get the set as it now is.
	s.tokenWatch.notify()
	if s.cfg.KeyLifetime > 0 && s.keys.SigningAge() >= s.cfg.KeyLifetime && !s.keys.pending() {
		if _, err := s.keys.Rotate(ctx); err != nil {
			return err
		}
	}
	return nil
}

// publicKeys is what PublicKeys answers: every key that may verify a live
// token, and the revocations.
func (s *Service) publicKeys() *authv1.PublicKeysResponse {
	before, sessions := s.revocations.snapshot()
	return publicKeysProto(s.keys.Published(), before, sessions)
}

// reload reads the keys and revocations from the store.
func (s *Service) reload(ctx context.Context) error {
	if err := s.keys.Load(ctx); err != nil {
		return err
	}
	return s.revocations.load(ctx)
}
