package config_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	configv1 "m3o.dev/proto/m3o/config/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/config"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
)

// The platform's identities in tests.
var (
	storeID  = mtls.Identity{Namespace: "micro", Service: "store"}
	authID   = mtls.Identity{Namespace: "micro", Service: "auth"}
	configID = mtls.Identity{Namespace: "micro", Service: "config"}
)

// adminPassword is the bootstrap admin's password in tests.
const adminPassword = "admin-password-123"

// pollInterval keeps watch tests quick; production uses the default.
const pollInterval = 50 * time.Millisecond

// env is the store, auth and config services, each on its own mTLS loopback
// listener as in production, with accounts logged in through auth.
type env struct {
	ca        *mtls.CA
	storeAddr string
	stopStore func()
	authAddr  string
	addr      string
	ring      *config.Keyring
	logs      *syncBuffer
	admin     user
	// storeConflicts counts the compare-and-set conflicts the store
	// answered the config replicas with.
	storeConflicts atomic.Int64
	// documentWrites counts the config replicas' writes of a document
	// record, each of which commits one round of changes.
	documentWrites atomic.Int64
}

// user is a logged-in account, or a core service, with its client.
type user struct {
	ctx    context.Context
	client configv1.ConfigServiceClient
}

// newEnv starts the platform with a config service over ring.
func newEnv(t *testing.T, ring *config.Keyring) *env {
	t.Helper()
	e := &env{ca: mtlstest.NewCA(t), ring: ring, logs: &syncBuffer{}}
	e.storeAddr, e.stopStore = serve(t, newStoreServer(t, e.ca))
	e.authAddr = e.startAuth(t)
	e.addr = e.startConfig(t, ring, e.logs)
	e.admin = e.login(t, "micro", "admin", adminPassword)
	return e
}

// newStoreServer builds a memory-backed store service, which knows its core
// callers by their mTLS identity alone.
func newStoreServer(t *testing.T, ca *mtls.CA) *grpcserver.Server {
	srv := corekit.NewServer(mtlstest.Bundle(t, ca, storeID.Namespace, storeID.Service), identity.NewAuthenticator(nil), nil, nil)
	storev1.RegisterStoreServiceServer(srv.GRPC(), store.New(memory.New(nil), nil, store.Options{}))
	return srv
}

// startAuth starts the auth service over the store, with cheap hashing.
func (e *env) startAuth(t *testing.T) string {
	t.Helper()
	bundle := mtlstest.Bundle(t, e.ca, authID.Namespace, authID.Service)
	cfg := auth.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AdminPassword = adminPassword
	cfg.Hash = auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}
	cfg.KeyPublishDelay = 0
	cfg.KeyEncryptionKey = testKEK(t)
	svc, err := auth.New(t.Context(), cfg, auth.Deps{Store: e.storeClient(t, bundle)})
	if err != nil {
		t.Fatalf("auth.New() = %v", err)
	}
	a := svc.Authenticator()
	srv := corekit.NewServer(bundle, a, nil, nil)
	svc.Register(srv.GRPC())
	addr, _ := serve(t, srv)
	return addr
}

// startConfig starts a config service replica over the store, verifying
// tokens with the keys auth publishes, and logging to logs.
func (e *env) startConfig(t *testing.T, ring *config.Keyring, logs *syncBuffer) string {
	t.Helper()
	bundle := mtlstest.Bundle(t, e.ca, configID.Namespace, configID.Service)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	keys := authkeys.New(authv1.NewAuthServiceClient(e.conn(t, e.authAddr, bundle, authID)), authkeys.Options{})
	if err := keys.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh(auth keys) = %v", err)
	}
	store := storev1.NewStoreServiceClient(e.conn(t, e.storeAddr, bundle, storeID, grpc.WithUnaryInterceptor(e.countStoreCalls)))
	svc, err := config.New(config.Options{Store: store, Keyring: ring, Logger: logger, PollInterval: pollInterval})
	if err != nil {
		t.Fatalf("config.New() = %v", err)
	}
	srv := corekit.NewServer(bundle, identity.NewAuthenticator(keys.Verifier()), logger, nil)
	svc.Register(srv.GRPC())
	addr, _ := serve(t, srv)
	return addr
}

// storeClient connects to the store as bundle's identity.
func (e *env) storeClient(t *testing.T, bundle *mtls.Bundle) storev1.StoreServiceClient {
	return storev1.NewStoreServiceClient(e.conn(t, e.storeAddr, bundle, storeID))
}

// countStoreCalls counts the store's Aborted answers and the writes of
// document records.
func (e *env) countStoreCalls(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if w, ok := req.(*storev1.WriteRequest); ok && w.GetTable() == "documents" {
		e.documentWrites.Add(1)
	}
	err := invoker(ctx, method, req, reply, cc, opts...)
	if status.Code(err) == codes.Aborted {
		e.storeConflicts.Add(1)
	}
	return err
}

// conn dials addr as bundle's identity, expecting the server to be expect.
func (e *env) conn(t *testing.T, addr string, bundle *mtls.Bundle, expect mtls.Identity, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(addr, bundle, expect, opts...)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", expect, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// config returns a client of the config service at addr that connects as
// the mTLS identity ns/svc.
func (e *env) config(t *testing.T, addr, ns, svc string) configv1.ConfigServiceClient {
	return configv1.NewConfigServiceClient(e.conn(t, addr, mtlstest.Bundle(t, e.ca, ns, svc), configID))
}

// core returns the core service micro/svc calling on its own behalf.
func (e *env) core(t *testing.T, svc string) user {
	return user{ctx: t.Context(), client: e.config(t, e.addr, "micro", svc)}
}

// login logs in through auth and returns the user, calling config as the
// proxy forwards it: the proxy's connection, the account's token.
func (e *env) login(t *testing.T, ns, name, secret string) user {
	t.Helper()
	a := authv1.NewAuthServiceClient(e.conn(t, e.authAddr, mtlstest.Bundle(t, e.ca, "micro", "proxy"), authID))
	resp, err := a.Token(t.Context(), &authv1.TokenRequest{Namespace: ns, Id: name, Secret: secret})
	if err != nil {
		t.Fatalf("Token(%s/%s) = %v, want tokens", ns, name, err)
	}
	return user{
		ctx:    identity.WithBearer(t.Context(), resp.GetToken().GetAccessToken()),
		client: e.config(t, e.addr, "micro", "proxy"),
	}
}

// account creates an account in ns as the admin and logs it in.
func (e *env) account(t *testing.T, ns, name string, roles ...string) user {
	t.Helper()
	e.createAccount(t, ns, name, authv1.AccountType_ACCOUNT_TYPE_USER, roles)
	return e.login(t, ns, name, accountSecret)
}

// workload is the tenant's service ns/svc calling on its own: its own mTLS
// identity and the token of its service account, as the runtime gives it.
func (e *env) workload(t *testing.T, ns, svc string) user {
	t.Helper()
	e.createAccount(t, ns, svc, authv1.AccountType_ACCOUNT_TYPE_SERVICE, []string{"service"})
	u := e.login(t, ns, svc, accountSecret)
	u.client = e.config(t, e.addr, ns, svc)
	return u
}

// accountSecret is the secret of every account the tests create.
const accountSecret = "account-secret-123"

// createAccount creates an account in ns as the admin.
func (e *env) createAccount(t *testing.T, ns, name string, typ authv1.AccountType, roles []string) {
	t.Helper()
	accounts := authv1.NewAccountsServiceClient(e.conn(t, e.authAddr, mtlstest.Bundle(t, e.ca, "micro", "proxy"), authID))
	_, err := accounts.Create(e.admin.ctx, &authv1.CreateRequest{
		Namespace: ns, Name: name, Secret: accountSecret, Type: typ, Roles: roles,
	})
	if err != nil {
		t.Fatalf("Create(%s/%s) = %v, want an account", ns, name, err)
	}
}

// serve serves srv on a loopback port until the test ends or stop is
// called, whichever is first.
func serve(t *testing.T, srv *grpcserver.Server) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				t.Errorf("Serve() = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// syncBuffer collects logs written concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Helpers that fail the test on an unexpected error.

func mustSet(t *testing.T, u user, path, value string) uint64 {
	t.Helper()
	resp, err := u.client.Set(u.ctx, &configv1.SetRequest{Path: path, Value: value})
	if err != nil {
		t.Fatalf("Set(%q, %s) = %v, want nil", path, value, err)
	}
	return resp.GetVersion()
}

func mustSetSecret(t *testing.T, u user, path, value string) uint64 {
	t.Helper()
	resp, err := u.client.Set(u.ctx, &configv1.SetRequest{Path: path, Value: value, Secret: true})
	if err != nil {
		t.Fatalf("Set(%q, secret) = %v, want nil", path, err)
	}
	return resp.GetVersion()
}

func mustGet(t *testing.T, u user, path string) string {
	t.Helper()
	resp, err := u.client.Get(u.ctx, &configv1.GetRequest{Path: path})
	if err != nil {
		t.Fatalf("Get(%q) = %v, want nil", path, err)
	}
	return resp.GetValue()
}

func mustReveal(t *testing.T, u user, path string) string {
	t.Helper()
	resp, err := u.client.Get(u.ctx, &configv1.GetRequest{Path: path, Secret: true})
	if err != nil {
		t.Fatalf("Get(%q, secret) = %v, want nil", path, err)
	}
	return resp.GetValue()
}

// wantField fails the test unless err is InvalidArgument with a BadRequest
// naming field.
func wantField(t *testing.T, call string, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("%s = %v, want InvalidArgument", call, err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Errorf("%s details = %v, want a BadRequest violation of %q", call, st.Details(), field)
}

// testKEK is a fixed key-encryption key: these tests keep no store beyond
// the test.
func testKEK(t testing.TB) *auth.KeyEncryptionKey {
	t.Helper()
	kek, err := auth.NewKeyEncryptionKey(bytes.Repeat([]byte{7}, auth.KeyEncryptionKeySize))
	if err != nil {
		t.Fatalf("NewKeyEncryptionKey() = %v", err)
	}
	return kek
}
