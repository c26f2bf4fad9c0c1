// Package platformtest runs a stand-in for the platform's public gRPC proxy
// so that the CLI can be tested without a server: a real gRPC server over
// TLS on a loopback port, serving small in-memory versions of the services
// the CLI calls, a runtime whose deployments move one status on with every
// read, and a user's hello service with server reflection. It checks bearer tokens the way the proxy does, rotates
// refresh tokens, and can be told to fail every call with a chosen status.
//
// It exists only to test the CLI. The platform itself is tested end to end
// against 'micro server'.
package platformtest

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service/servicetest"
	"m3o.dev/pkg/service/servicetest/hellopb"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	configv1 "m3o.dev/proto/m3o/config/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// The one account the platform knows at start.
const (
	Username  = "admin"
	Password  = "correct horse"
	Namespace = "micro"
)

// Call is one RPC the platform received.
type Call struct {
	// Method is the full gRPC method name.
	Method string
	// Authorization is the authorization metadata sent with it, if any.
	Authorization string
}

// Platform is a running stand-in.
type Platform struct {
	// Addr is the host:port the platform listens on.
	Addr string
	// CAFile is a PEM file of the CA that signed the platform's certificate.
	CAFile string

	server *grpc.Server

	mu        sync.Mutex
	accessTTL time.Duration
	fail      error
	access    map[string]bool
	refresh   string
	refreshes int
	revoked   []string
	calls     []Call
	secrets   map[string]string
	disabled  map[string]bool
	records   map[string]*storev1.Record
	config    map[string]string
	version   uint64

	billingStatus billingv1.SubscriptionStatus
	canceling     bool

	runtime       *runtimeService
	invites       map[string]*authv1.Invite
	codesSent     []string
	signupToken   string
	paymentPolls  int
	signupSecrets []string
	resizes       []*runtimev1.ResizeRequest
	quotas        map[string]*runtimev1.Quota
}

// Start runs a platform until the test ends. Its certificate names
// 127.0.0.1, as the proxy's certificate must name the host the CLI dials.
func Start(t testing.TB) *Platform {
	t.Helper()
	ca := mtlstest.NewCA(t)
	bundle := mtlstest.Bundle(t, ca, "micro", "proxy")
	p := &Platform{
		CAFile:    filepath.Join(t.TempDir(), "ca.pem"),
		accessTTL: 15 * time.Minute,
		access:    map[string]bool{},
		secrets:   map[string]string{Username: Password},
		disabled:  map[string]bool{},
		records:   map[string]*storev1.Record{},
		config:    map[string]string{},
		invites:   map[string]*authv1.Invite{},
		quotas:    map[string]*runtimev1.Quota{},

		billingStatus: billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
	}
	if err := os.WriteFile(p.CAFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatalf("write CA: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p.Addr = lis.Addr().String()
	p.server = grpc.NewServer(
		grpc.Creds(credentials.NewTLS(mtls.ServerOnlyConfig(bundle.Cert))),
		grpc.UnaryInterceptor(p.intercept),
		grpc.StreamInterceptor(p.interceptStream),
	)
	p.register()
	go p.server.Serve(lis)
	t.Cleanup(p.server.Stop)
	return p
}

// register registers every service.
func (p *Platform) register() {
	authv1.RegisterAuthServiceServer(p.server, &authService{p: p})
	authv1.RegisterAccountsServiceServer(p.server, &accountsService{p: p})
	authv1.RegisterRulesServiceServer(p.server, &rulesService{p: p})
	storev1.RegisterStoreServiceServer(p.server, &storeService{p: p})
	configv1.RegisterConfigServiceServer(p.server, &configService{p: p})
	registryv1.RegisterRegistryServiceServer(p.server, &registryService{p: p})
	billingv1.RegisterBillingServiceServer(p.server, &billingService{p: p})
	p.runtime = &runtimeService{p: p, sources: map[string][]string{}, kept: map[string][]*runtimev1.KeptSource{}, services: map[string]*deployment{}}
	runtimev1.RegisterRuntimeServiceServer(p.server, p.runtime)
	// A user's service, as the proxy reaches it with the micro-service
	// header, and server reflection, which it answers.
	hellopb.RegisterHelloServer(p.server, failingGreeter{servicetest.NewGreeter("Hello")})
	reflection.Register(p.server)
	authv1.RegisterInviteServiceServer(p.server, &inviteService{p: p})
	authv1.RegisterSignupServiceServer(p.server, &signupService{p: p})
}

// Stop stops the platform, so that the CLI finds nothing listening.
func (p *Platform) Stop() {
	p.server.Stop()
}

// SetAccessTTL sets the lifetime of the access tokens issued from now on.
func (p *Platform) SetAccessTTL(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accessTTL = d
}

// FailWith makes every call that needs a token fail with err once its token
// is checked, and every sign-up call too; nil restores normal service.
func (p *Platform) FailWith(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = err
}

// RevokeRefresh revokes the live refresh token, as an admin revoking a
// login would.
func (p *Platform) RevokeRefresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refresh = ""
}

// ForgetAccessTokens makes every access token issued so far invalid before
// its expiry, as a platform reset or key rotation would.
func (p *Platform) ForgetAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.access = map[string]bool{}
}

// Refreshes returns how many refresh tokens have been exchanged.
func (p *Platform) Refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes
}

// Revoked returns the refresh tokens revoked so far.
func (p *Platform) Revoked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.revoked...)
}

// Calls returns every call received so far.
func (p *Platform) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Secret returns the secret an account was created with.
func (p *Platform) Secret(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.secrets[name]
}

// Disabled reports whether the account name is disabled.
func (p *Platform) Disabled(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.disabled[name]
}

// Record returns the stored record of key, or nil.
func (p *Platform) Record(key string) *storev1.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.records[key]
}

// interceptStream checks a stream's token as intercept checks a call's.
func (p *Platform) interceptStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if _, err := p.intercept(ss.Context(), nil, &grpc.UnaryServerInfo{FullMethod: info.FullMethod}, func(context.Context, any) (any, error) {
		return nil, nil
	}); err != nil {
		return err
	}
	err := handler(srv, ss)
	answered(info.FullMethod, err, func(md metadata.MD) { ss.SetTrailer(md) })
	return err
}

// answered marks a status hello ended a call with as its own, as the proxy
// does for a user's service: never a code the transport also produces.
func answered(fullMethod string, err error, set func(metadata.MD)) {
	switch status.Code(err) {
	case codes.OK, codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Internal, codes.Unknown, codes.DataLoss:
		return
	}
	if strings.HasPrefix(fullMethod, "/hello.Hello/") {
		set(metadata.Pairs(platform.AnsweredByTrailer, "hello"))
	}
}

// FailingName is the name for which hello's Call returns a plain Go error,
// as a handler does that gives no gRPC code: grpc-go ends the call Unknown.
const FailingName = "fail"

// failingGreeter is hello with a handler that fails as user code does.
type failingGreeter struct{ *servicetest.Greeter }

func (g failingGreeter) Call(ctx context.Context, req *hellopb.CallRequest) (*hellopb.CallResponse, error) {
	if req.GetName() == FailingName {
		return nil, errors.New("the database is down")
	}
	return g.Greeter.Call(ctx, req)
}

// intercept records each call and, like the proxy, refuses a call without a
// live access token unless it is public: a login, a password reset or a
// sign-up call.
func (p *Platform) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	authz := strings.Join(md.Get("authorization"), ",")
	p.mu.Lock()
	p.calls = append(p.calls, Call{Method: info.FullMethod, Authorization: authz})
	live, fail := p.access[strings.TrimPrefix(authz, "Bearer ")], p.fail
	p.mu.Unlock()
	switch info.FullMethod {
	case authv1.AuthService_Token_FullMethodName, authv1.AuthService_SendPasswordReset_FullMethodName, authv1.AuthService_ResetPassword_FullMethodName:
		return handler(ctx, req)
	}
	if !live && !strings.HasPrefix(info.FullMethod, "/"+authv1.SignupService_ServiceDesc.ServiceName+"/") {
		return nil, status.Error(codes.Unauthenticated, "missing, expired or revoked token")
	}
	if fail != nil {
		return nil, fail
	}
	if svc := md.Get(platform.ServiceHeader); len(svc) > 0 && svc[0] != "hello" {
		// As the proxy routes on the header: hello is the one service that runs.
		return nil, status.Error(codes.NotFound, platform.NotRunning(svc[0], Namespace))
	}
	resp, err := handler(ctx, req)
	answered(info.FullMethod, err, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
	return resp, err
}

// issue creates a new token pair, retiring the previous refresh token, which
// works once. The caller holds p.mu.
func (p *Platform) issue() *authv1.Token {
	now := time.Now()
	p.refresh = "refresh-" + rand.Text()
	access := "access-" + rand.Text()
	p.access[access] = true
	return &authv1.Token{
		AccessToken:  access,
		RefreshToken: p.refresh,
		Expiry:       timestamp(now.Add(p.accessTTL)),
		Created:      timestamp(now),
	}
}
