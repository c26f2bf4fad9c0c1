package store_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/token"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
	"m3o.dev/services/store/storetest"
)

// serverID is the store's own mTLS identity, which clients expect.
var serverID = mtls.Identity{Namespace: "micro", Service: "store"}

// env is a store service on a memory backend, served over real mTLS on
// loopback.
type env struct {
	ca      *mtls.CA
	addr    string
	signer  *token.Signer
	clock   *storetest.Clock
	backend store.Backend
	logs    *syncBuffer
}

// start serves a store with the given quota until the test ends.
func start(t testing.TB, quota int64) *env {
	t.Helper()
	clock := storetest.NewClock()
	return startOn(t, memory.New(clock.Now), clock, quota)
}

// startOn serves a store over backend, whose clock is clock.
func startOn(t testing.TB, backend store.Backend, clock *storetest.Clock, quota int64) *env {
	t.Helper()
	ca := mtlstest.NewCA(t)
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey() = %v", err)
	}
	ks := token.NewKeySet()
	ks.Add(kid, priv.Public().(ed25519.PublicKey))
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	svc := store.New(backend, logger, store.Options{QuotaBytes: quota, Now: clock.Now})
	// Tokens are checked against the real clock, records against the test's.
	srv := corekit.NewServer(mtlstest.Bundle(t, ca, serverID.Namespace, serverID.Service), identity.NewAuthenticator(token.NewVerifier(ks)), logger, nil)
	storev1.RegisterStoreServiceServer(srv.GRPC(), svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v, want nil", err)
		}
	})
	return &env{ca: ca, addr: lis.Addr().String(), signer: token.NewSigner(kid, priv), clock: clock, backend: backend, logs: logs}
}

// dial connects with the mTLS identity namespace/service.
func (e *env) dial(t testing.TB, namespace, service string, opts ...grpc.DialOption) storev1.StoreServiceClient {
	t.Helper()
	conn, err := grpcclient.Dial(e.addr, mtlstest.Bundle(t, e.ca, namespace, service), serverID, opts...)
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return storev1.NewStoreServiceClient(conn)
}

// core returns a client that is the core service micro/service.
func (e *env) core(t testing.TB, service string) storev1.StoreServiceClient {
	return e.dial(t, "micro", service)
}

// user returns a client acting for an account of namespace with roles, as
// the proxy forwards it: the proxy's connection, the account's token.
func (e *env) user(t testing.TB, namespace string, roles ...string) storev1.StoreServiceClient {
	t.Helper()
	tok := e.token(t, namespace, "acct-"+namespace, "user", roles)
	return e.dial(t, "micro", "proxy", grpc.WithPerRPCCredentials(identity.BearerCredentials(tok)))
}

// workload returns a client that is a tenant's service namespace/service:
// its own mTLS identity, carrying its service account's token, as a
// workload outside micro must.
func (e *env) workload(t testing.TB, namespace, service string) storev1.StoreServiceClient {
	t.Helper()
	tok := e.token(t, namespace, "svc-"+service, "service", []string{"service"})
	return e.dial(t, namespace, service, grpc.WithPerRPCCredentials(identity.BearerCredentials(tok)))
}

// token signs an access token for account sub of namespace.
func (e *env) token(t testing.TB, namespace, sub, typ string, roles []string) string {
	t.Helper()
	now := time.Now()
	tok, err := e.signer.Sign(token.Claims{
		Subject: sub, Namespace: namespace, Type: typ, Roles: roles,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), ID: token.NewID(),
	})
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	return tok
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
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

// String returns what was written.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
