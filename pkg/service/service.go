package service

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/platform"
	configv1 "m3o.dev/proto/m3o/config/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// Defaults for the options.
const (
	// DefaultShutdownGrace is how long a stopping instance keeps serving
	// after it has deregistered, so that every proxy's routing cache has
	// dropped it before it refuses new calls.
	DefaultShutdownGrace = time.Second
	// DefaultDrainTimeout is how long calls in flight then get to finish.
	DefaultDrainTimeout = grpcserver.DefaultDrainTimeout
)

// timeNow is the clock of token renewal.
var timeNow = time.Now

// ErrReservedPackage is returned by Run when a registered gRPC service is in
// a proto package under platform.ReservedPackagePrefix.
var ErrReservedPackage = errors.New("proto packages under " + platform.ReservedPackagePrefix + " are reserved for the platform")

// Service is one instance of a user's service: a gRPC server to register
// handlers on, and, on the platform, clients of the platform acting as the
// service's account. Build it with New, register handlers, then Run.
type Service struct {
	env    Env
	opts   options
	log    *slog.Logger
	server *grpcserver.Server
	descs  []*grpc.ServiceDesc
	// err is what keeps the service from running: a broken platform
	// environment; reserved is the same for a handler in a reserved
	// package.
	err, reserved error

	// certs are the instance's certificate files and account reaches the
	// platform through the proxy as the service account; both nil when
	// standalone.
	certs   *certs
	account *asAccount
}

var _ grpc.ServiceRegistrar = (*Service)(nil)

// options are what Options set.
type options struct {
	getenv func(string) string
	logger *slog.Logger
	grace  time.Duration
	drain  time.Duration
}

// Option configures a Service.
type Option func(*options)

// WithLogger logs to l instead of standard error.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithEnvironment reads the platform's variables with getenv instead of
// os.Getenv, for tests and for several services in one process.
func WithEnvironment(getenv func(string) string) Option {
	return func(o *options) { o.getenv = getenv }
}

// WithShutdownGrace sets how long a stopping instance keeps serving after
// deregistering; zero means DefaultShutdownGrace.
func WithShutdownGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

// WithDrainTimeout sets how long calls in flight get to finish once the
// instance stops serving; zero means DefaultDrainTimeout.
func WithDrainTimeout(d time.Duration) Option { return func(o *options) { o.drain = d } }

// New returns the service name. On the platform the runtime's
// MICRO_SERVICE_NAME is the name, and name only a default. New never
// fails: a broken platform environment is reported by Run, and until then
// the platform clients fail every call with it.
func New(name string, opts ...Option) *Service {
	o := options{getenv: os.Getenv, grace: DefaultShutdownGrace, drain: DefaultDrainTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Service{opts: o}
	s.env, s.err = LoadEnv(o.getenv)
	if s.env.Name == "" {
		s.env.Name = name
	}
	s.log = o.logger
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s.log = s.log.With("service", s.env.Name)
	if s.env.Name != name {
		s.log.Warn("the runtime names the service otherwise; registering under its name", "name_in_code", name)
	}
	if s.err == nil && s.env.Platform() {
		s.err = s.connect()
	}
	s.server = s.newServer()
	return s
}

// Name returns the service's name.
func (s *Service) Name() string { return s.env.Name }

// Namespace returns the namespace the service runs in, or "" standalone.
func (s *Service) Namespace() string { return s.env.Namespace }

// Standalone reports whether the service runs without the platform.
func (s *Service) Standalone() bool { return !s.env.Platform() }

// Logger returns the service's logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// RegisterService implements grpc.ServiceRegistrar, so that generated
// Register functions take the Service: hellopb.RegisterHelloServer(svc, h).
func (s *Service) RegisterService(desc *grpc.ServiceDesc, impl any) {
	if strings.HasPrefix(desc.ServiceName, platform.ReservedPackagePrefix) {
		s.reserved = errors.Join(s.reserved, fmt.Errorf("register %s: %w", desc.ServiceName, ErrReservedPackage))
		return
	}
	s.server.GRPC().RegisterService(desc, impl)
	s.descs = append(s.descs, desc)
}

// Store returns the store as the service account: the database is the
// namespace, and the table the service's name unless a request names
// another.
func (s *Service) Store() storev1.StoreServiceClient {
	return storeClient{StoreServiceClient: storev1.NewStoreServiceClient(s.conn("")), table: s.env.Name}
}

// Config returns the namespace's config as the service account.
func (s *Service) Config() configv1.ConfigServiceClient {
	return configv1.NewConfigServiceClient(s.conn(""))
}

// Client returns a connection to the service name of the same namespace,
// through the proxy as the service account, for the generated client of
// its API: hellopb.NewHelloClient(svc.Client("hello")).
func (s *Service) Client(name string) grpc.ClientConnInterface {
	return s.conn(name)
}

// conn returns how calls reach the platform, naming service when set.
func (s *Service) conn(service string) grpc.ClientConnInterface {
	switch {
	case s.err != nil:
		return unavailable{st: status.Newf(codes.Unavailable, "The service could not reach the platform: %v", s.err)}
	case s.account == nil:
		return standaloneConn
	}
	a := *s.account
	a.service = service
	return a
}
