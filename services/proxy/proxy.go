// Package proxy is the platform's public gRPC entry point.
//
// Every call is authenticated with its bearer token, checked against the
// caller's namespace rules, rate-limited per account and then forwarded, as
// raw frames that are never decoded. A call to an m3o.* package goes to the
// core service that owns it. Any other goes to a user's service in the
// caller's namespace: the one the micro-service header names, or, without
// the header, the one named by the first label of the method's package.
// Nodes finds it from a watch-fed cache of the registry and dials it over
// mTLS, checking that its certificate names that namespace and service.
//
// The caller's metadata (its authorization header included) and its
// deadline travel with the call, so the receiving service checks the same
// identity again; a user's service also gets the caller's namespace,
// account and roles (identity.SetForwarded), which it believes because the
// call comes from the proxy's certificate. The proxy answers reflection for
// the core APIs itself, and sends health and reflection calls that carry a
// micro-service header on to that user's service.
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/token"
)

// Sentinel errors; toStatus maps them to gRPC codes.
var (
	// ErrUnauthenticated means the call has no token or a bad one.
	ErrUnauthenticated = errors.New("unauthenticated")
	// errKeysNotReady means a token could not be judged yet: the token
	// keys are not loaded from auth. The caller may try again.
	errKeysNotReady = errors.New("token keys not loaded yet")
	// ErrDenied means the rules of the caller's namespace refuse the call.
	ErrDenied = errors.New("permission denied")
	// ErrUnknownService means no backend serves the called service.
	ErrUnknownService = errors.New("unknown service")
	// ErrNotRunning means the user's service called has no node in the
	// caller's namespace; NotRunningError says which.
	ErrNotRunning = errors.New("service not running")
	// ErrBadServiceName means the micro-service header is not a service
	// name.
	ErrBadServiceName = errors.New("bad service name")
	// ErrRateLimited means the caller has used up its request budget.
	ErrRateLimited = errors.New("rate limited")
)

// Authorizer decides whether a caller may call a method. The caller of a
// public call without a token has an empty Namespace.
type Authorizer interface {
	Authorize(ctx context.Context, caller identity.Caller, service, method string) error
}

// Resolver finds where a user's service runs in a namespace and returns a
// connection to one of its nodes, or a *NotRunningError. It also says
// whether fullMethod is unary, which the proxy forwards more cheaply than a
// stream; false is always safe. Nodes is the implementation.
type Resolver interface {
	Resolve(ctx context.Context, namespace, service, fullMethod string) (conn *grpc.ClientConn, unary bool, err error)
}

// Config holds what a Proxy needs.
type Config struct {
	// Verifier checks bearer tokens; it caches verified tokens until expiry.
	Verifier *token.Verifier
	// Authorizer applies the namespace rules.
	Authorizer Authorizer
	// Backends maps a proto package ("m3o.store.v1") to the core service
	// connection (mTLS) that serves it.
	Backends map[string]*grpc.ClientConn
	// Resolver routes calls to users' services; nil answers that none
	// runs.
	Resolver Resolver
	// Limits is the per-account rate limit.
	Limits RateLimit
	// MaxStreams bounds the streams one caller holds open at once; zero
	// means no limit.
	MaxStreams int
	// TrustedProxies are the load balancers whose X-Forwarded-For names
	// the caller's address.
	TrustedProxies TrustedProxies
	// Logger receives one line per refused call; never tokens.
	Logger *slog.Logger
}

// Proxy forwards public calls to the platform's services.
type Proxy struct {
	verifier   *token.Verifier
	authorizer Authorizer
	backends   map[string]*grpc.ClientConn
	resolver   Resolver
	limiter    *limiter
	streams    *streamCounter
	trusted    TrustedProxies
	methods    *methodTable
	reflection *coreReflection
	log        *slog.Logger
}

// New returns a Proxy; cfg.Verifier, cfg.Authorizer and cfg.Logger are required.
func New(cfg Config) *Proxy {
	return &Proxy{
		verifier:   cfg.Verifier,
		authorizer: cfg.Authorizer,
		backends:   cfg.Backends,
		resolver:   cfg.Resolver,
		limiter:    newLimiter(cfg.Limits),
		streams:    newStreamCounter(cfg.MaxStreams),
		trusted:    cfg.TrustedProxies,
		methods:    newMethodTable(),
		reflection: newCoreReflection(),
		log:        cfg.Logger,
	}
}

// ServerOptions makes a gRPC server send every call it does not serve
// itself through the proxy, with frames left encoded. Its own health and
// reflection are sent on too when a micro-service header names a user's
// service, and its reflection describes the core APIs otherwise. Its
// interceptors run after any the server already has.
func (p *Proxy) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(p.handle),
		grpc.ChainUnaryInterceptor(p.unaryInterceptor),
		grpc.ChainStreamInterceptor(p.streamInterceptor),
	}
}

// protoPackage returns the package of a full service name:
// "m3o.store.v1.StoreService" gives "m3o.store.v1".
func protoPackage(service string) string {
	i := strings.LastIndexByte(service, '.')
	if i < 0 {
		return ""
	}
	return service[:i]
}
