package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/token"
)

// ErrUnauthenticated is wrapped by every error Authenticate returns.
var ErrUnauthenticated = errors.New("unauthenticated")

// The reasons a call is refused; each wraps ErrUnauthenticated and has its
// own sentence for the client in publicMessage.
var (
	errNoCredentials     = fmt.Errorf("no bearer token and no platform client certificate: %w", ErrUnauthenticated)
	errBadHeader         = fmt.Errorf("authorization is not a single bearer token: %w", ErrUnauthenticated)
	errBadToken          = fmt.Errorf("bearer token rejected: %w", ErrUnauthenticated)
	errAnonymousViaProxy = fmt.Errorf("call relayed by the proxy without a bearer token: %w", ErrUnauthenticated)
	errWorkloadNoToken   = fmt.Errorf("tenant workload called without its bearer token: %w", ErrUnauthenticated)
)

// errKeysNotReady is a token that could not be judged yet, since the token
// keys are not loaded: the one refusal that is Unavailable, not
// Unauthenticated, because the same call will succeed in a moment.
var errKeysNotReady = errors.New("token keys not loaded yet")

// ProxyIdentity is the public proxy's mTLS identity. A call it relays
// carries the caller's own bearer token or is anonymous: the proxy's
// certificate never stands in for the caller.
var ProxyIdentity = mtls.Identity{Namespace: PlatformNamespace, Service: "proxy"}

// openPrefixes are the services that answer without identity: load
// balancers probe health, and reflection describes only the API.
var openPrefixes = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// Authenticator establishes the Caller of each call. It is safe for
// concurrent use.
type Authenticator struct {
	verifier *token.Verifier
	public   map[string]bool
	logger   *slog.Logger
}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithPublicMethods lets the named full methods ("/pkg.Service/Method")
// through without credentials. Their handlers still get a Caller when the
// call carried valid credentials, and none otherwise.
func WithPublicMethods(methods ...string) Option {
	return func(a *Authenticator) {
		for _, m := range methods {
			a.public[m] = true
		}
	}
}

// WithLogger makes the interceptors log why a call was refused, at debug
// level. The token itself is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(a *Authenticator) { a.logger = l }
}

// NewAuthenticator returns an Authenticator that verifies bearer tokens with
// v. A nil v refuses every bearer token, for servers that accept only core
// services.
func NewAuthenticator(v *token.Verifier, opts ...Option) *Authenticator {
	a := &Authenticator{verifier: v, public: make(map[string]bool), logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Authenticate returns the Caller of the call whose server context is ctx.
// When the call carries an authorization header, the caller is who the
// bearer token says, and a bad token is an error, never a fall back to the
// connection's identity. Without one, the caller is the verified mTLS
// identity of the connection, but only for a core service (an identity of
// namespace micro other than the proxy): a tenant's workload holds a
// certificate so that it can serve, and calls the platform with its
// service account's token like any other caller. Every error wraps
// ErrUnauthenticated, but for a token that could not be judged because the
// token keys are not loaded yet.
func (a *Authenticator) Authenticate(ctx context.Context) (Caller, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if vals := md.Get(authorizationKey); len(vals) > 0 {
		return a.fromToken(vals)
	}
	id, err := mtls.PeerIdentity(ctx)
	if err != nil {
		return Caller{}, fmt.Errorf("%w (%w)", errNoCredentials, err)
	}
	if id == ProxyIdentity {
		// The proxy relays calls from anyone on the internet; its
		// certificate vouches for the hop, not for the caller.
		return Caller{}, errAnonymousViaProxy
	}
	if id.Namespace != PlatformNamespace {
		return Caller{}, errWorkloadNoToken
	}
	return Caller{Namespace: id.Namespace, Service: id.Service, Subject: id.Service}, nil
}

// fromToken verifies the authorization header values.
func (a *Authenticator) fromToken(vals []string) (Caller, error) {
	if len(vals) != 1 {
		return Caller{}, errBadHeader
	}
	raw, ok := parseBearer(vals[0])
	if !ok {
		return Caller{}, errBadHeader
	}
	if a.verifier == nil {
		return Caller{}, fmt.Errorf("%w: this server accepts no bearer tokens", errBadToken)
	}
	c, err := a.verifier.Verify(raw)
	if errors.Is(err, token.ErrNotReady) {
		return Caller{}, fmt.Errorf("%w: %w", errKeysNotReady, err)
	}
	if err != nil {
		return Caller{}, fmt.Errorf("%w: %w", errBadToken, err)
	}
	// Without both, the token names nobody; the namespace in particular is
	// what every tenant check rests on.
	if c.Namespace == "" || c.Subject == "" {
		return Caller{}, fmt.Errorf("%w: token lacks ns or sub", errBadToken)
	}
	return Caller{Namespace: c.Namespace, Subject: c.Subject, Roles: c.Roles}, nil
}

// UnaryInterceptor returns an interceptor that puts the Caller in the
// handler's context, or fails the call with codes.Unauthenticated.
func (a *Authenticator) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := a.admit(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// StreamInterceptor returns the streaming counterpart of UnaryInterceptor.
func (a *Authenticator) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := a.admit(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return h(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

// admit decides whether a call to method proceeds, and with which context.
func (a *Authenticator) admit(ctx context.Context, method string) (context.Context, error) {
	if isOpen(method) {
		return ctx, nil
	}
	c, err := a.Authenticate(ctx)
	if err == nil {
		return NewContext(ctx, c), nil
	}
	if a.public[method] {
		return ctx, nil
	}
	a.logger.LogAttrs(ctx, slog.LevelDebug, "call refused", slog.String("method", method), slog.Any("error", err))
	if errors.Is(err, errKeysNotReady) {
		return nil, status.Error(codes.Unavailable, "This service has not loaded the token keys from auth yet; try again.")
	}
	return nil, status.Error(codes.Unauthenticated, publicMessage(err))
}

func isOpen(method string) bool {
	for _, p := range openPrefixes {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// publicMessage is the one sentence a refused client reads. It says what to
// fix without saying what exactly the verifier disliked.
func publicMessage(err error) string {
	switch {
	case errors.Is(err, errBadHeader):
		return "The authorization header must be a single \"Bearer <token>\"."
	case errors.Is(err, errBadToken):
		return "The bearer token is invalid, expired or revoked; log in again."
	case errors.Is(err, errAnonymousViaProxy):
		return "This call needs a bearer token: log in first."
	case errors.Is(err, errWorkloadNoToken):
		return "A service outside namespace micro must send its service account's bearer token."
	default:
		return "This call needs a bearer token or a platform client certificate."
	}
}

// stream carries the context with the Caller to a streaming handler.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the context that carries the Caller.
func (s *stream) Context() context.Context { return s.ctx }
