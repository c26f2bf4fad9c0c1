package auth_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
)

// adminPassword is the bootstrap admin's password in tests.
const adminPassword = "admin-password-123"

// testHash keeps argon2id cheap in tests; production uses auth.DefaultHash.
var testHash = auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}

// clock is a settable time source shared by the auth service and its test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

// Now returns the clock's time, which moves on by a microsecond at each
// reading so that events stay ordered as on a real clock.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a store service and an auth service over it, each on its own mTLS
// loopback listener, as they run in production.
type env struct {
	ca        *mtls.CA
	backend   *memory.Backend
	storeAddr string
	cfg       auth.Config
	clock     *clock
	svc       *auth.Service
	addr      string
}

// testConfig is DefaultConfig with cheap hashing and keys that sign at once.
func testConfig(t testing.TB) auth.Config {
	cfg := auth.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AdminPassword = adminPassword
	cfg.Hash = testHash
	cfg.KeyPublishDelay = 0
	cfg.KeyEncryptionKey = newKEK(t)
	return cfg
}

// newKEK returns a new random key-encryption key.
func newKEK(t testing.TB) *auth.KeyEncryptionKey {
	t.Helper()
	kek, err := auth.NewKeyEncryptionKey([]byte(rand.Text() + rand.Text())[:auth.KeyEncryptionKeySize])
	if err != nil {
		t.Fatalf("NewKeyEncryptionKey() = %v", err)
	}
	return kek
}

// newEnv starts a memory-backed store service and an auth service over it.
func newEnv(t testing.TB, cfg auth.Config) *env {
	t.Helper()
	e := &env{ca: mtlstest.NewCA(t), cfg: cfg, clock: newClock()}
	e.storeAddr = e.serveStore(t)
	e.start(t)
	return e
}

// serveStore starts the store service, which knows auth by its mTLS
// identity alone.
func (e *env) serveStore(t testing.TB) string {
	t.Helper()
	e.backend = memory.New(nil)
	a := identity.NewAuthenticator(nil)
	srv := grpcserver.New(grpcserver.Options{
		TLS:    mtlstest.Bundle(t, e.ca, "micro", "store").ServerConfig(),
		Logger: slog.New(slog.DiscardHandler),
		Unary:  []grpc.UnaryServerInterceptor{a.UnaryInterceptor()},
		Stream: []grpc.StreamServerInterceptor{a.StreamInterceptor()},
	})
	storev1.RegisterStoreServiceServer(srv.GRPC(), store.New(e.backend, nil, store.Options{}))
	return serve(t, srv)
}

// start starts an auth service replica on the env's store; a second call
// is a restart or another replica.
func (e *env) start(t testing.TB) *auth.Service {
	t.Helper()
	return e.startWith(t, auth.Deps{})
}

// startWith is start with deps, completed as newService does.
func (e *env) startWith(t testing.TB, deps auth.Deps) *auth.Service {
	t.Helper()
	svc, err := e.newService(t, e.cfg, deps)
	if err != nil {
		t.Fatalf("auth.New() = %v", err)
	}
	e.svc = svc
	e.addr = serve(t, authServer(svc, mtlstest.Bundle(t, e.ca, "micro", "auth")))
	return svc
}

// newService returns an auth service over the env's store, with deps
// completed by a store client, a silent logger and the env's clock.
func (e *env) newService(t testing.TB, cfg auth.Config, deps auth.Deps) (*auth.Service, error) {
	t.Helper()
	if deps.Store == nil {
		deps.Store = e.storeClient(t)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Clock == nil {
		deps.Clock = e.clock.Now
	}
	return auth.New(t.Context(), cfg, deps)
}

// storeClient connects to the env's store as micro/auth.
func (e *env) storeClient(t testing.TB) storev1.StoreServiceClient {
	t.Helper()
	bundle := mtlstest.Bundle(t, e.ca, "micro", "auth")
	conn, err := grpcclient.Dial(e.storeAddr, bundle, mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		t.Fatalf("Dial(store) = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return storev1.NewStoreServiceClient(conn)
}

// authServer is the server a process runs auth on: mTLS with the
// service's own authenticator, as corekit builds it.
func authServer(svc *auth.Service, bundle *mtls.Bundle) *grpcserver.Server {
	a := svc.Authenticator()
	srv := grpcserver.New(grpcserver.Options{
		TLS:    bundle.ServerConfig(),
		Unary:  []grpc.UnaryServerInterceptor{a.UnaryInterceptor()},
		Stream: []grpc.StreamServerInterceptor{a.StreamInterceptor()},
	})
	svc.Register(srv.GRPC())
	return srv
}

// serve serves srv on a loopback port until the test ends.
func serve(t testing.TB, srv *grpcserver.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve() = %v", err)
		}
	})
	return lis.Addr().String()
}

// clients are the auth service's clients over one connection.
type clients struct {
	auth     authv1.AuthServiceClient
	accounts authv1.AccountsServiceClient
	rules    authv1.RulesServiceClient
	invites  authv1.InviteServiceClient
}

// dial connects to the auth service as the mTLS identity ns/svc. Users'
// calls come as micro/proxy, which vouches for nobody, so they count only
// through their bearer tokens.
func (e *env) dial(t testing.TB, ns, svc string) clients {
	t.Helper()
	conn := e.conn(t, ns, svc)
	return clients{
		auth:     authv1.NewAuthServiceClient(conn),
		accounts: authv1.NewAccountsServiceClient(conn),
		rules:    authv1.NewRulesServiceClient(conn),
		invites:  authv1.NewInviteServiceClient(conn),
	}
}

// conn connects to the auth service as the mTLS identity ns/svc.
func (e *env) conn(t testing.TB, ns, svc string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(e.addr, mtlstest.Bundle(t, e.ca, ns, svc), mtls.Identity{Namespace: "micro", Service: "auth"})
	if err != nil {
		t.Fatalf("Dial(auth) = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// user is a logged-in account: a context carrying its bearer token.
type user struct {
	ctx     context.Context
	account *authv1.Account
	token   *authv1.Token
}

// login logs in as name in ns and returns the user.
func login(t testing.TB, c clients, ns, name, secret string) user {
	t.Helper()
	resp, err := c.auth.Token(t.Context(), &authv1.TokenRequest{Namespace: ns, Id: name, Secret: secret})
	if err != nil {
		t.Fatalf("Token(%s/%s) = %v, want tokens", ns, name, err)
	}
	return user{ctx: identity.WithBearer(t.Context(), resp.GetToken().GetAccessToken()), account: resp.GetAccount(), token: resp.GetToken()}
}

// create creates an account as u and returns it.
func create(t testing.TB, c clients, u user, ns, name, secret string, roles ...string) *authv1.Account {
	t.Helper()
	resp, err := c.accounts.Create(u.ctx, &authv1.CreateRequest{Namespace: ns, Name: name, Secret: secret, Roles: roles})
	if err != nil {
		t.Fatalf("Create(%s/%s) = %v, want an account", ns, name, err)
	}
	return resp.GetAccount()
}
