package registryserver_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/token"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/registry"
)

// env is a registry served over real mTLS on loopback.
type env struct {
	ca     *mtls.CA
	addr   string
	signer *token.Signer
}

// serverID is the registry's own mTLS identity, which clients expect.
var serverID = mtls.Identity{Namespace: "micro", Service: "registry"}

// startRegistry serves backend until the test ends.
func startRegistry(t testing.TB, backend registry.Backend) *env {
	t.Helper()
	ca := mtlstest.NewCA(t)
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey = %v", err)
	}
	ks := token.NewKeySet()
	ks.Add(kid, priv.Public().(ed25519.PublicKey))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen = %v", err)
	}
	// The process's server, with tokens checked against a key of the
	// test's own instead of auth's.
	proc := &corekit.Process{
		Name: serverID.Service, Bundle: mtlstest.Bundle(t, ca, serverID.Namespace, serverID.Service),
		Listener: lis, Logger: slog.New(slog.DiscardHandler),
	}
	srv := proc.NewServer(identity.NewAuthenticator(token.NewVerifier(ks)))
	registryv1.RegisterRegistryServiceServer(srv.GRPC(), registry.New(backend, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.ServeGRPC(ctx, srv) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	})
	return &env{ca: ca, addr: lis.Addr().String(), signer: token.NewSigner(kid, priv)}
}

// dial connects with the mTLS identity namespace/service and extra options.
func (e *env) dial(t testing.TB, namespace, service string, opts ...grpc.DialOption) registryv1.RegistryServiceClient {
	t.Helper()
	conn, err := grpcclient.Dial(e.addr, mtlstest.Bundle(t, e.ca, namespace, service), serverID, opts...)
	if err != nil {
		t.Fatalf("Dial = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return registryv1.NewRegistryServiceClient(conn)
}

// core returns a client that is the core service micro/service.
func (e *env) core(t testing.TB, service string) registryv1.RegistryServiceClient {
	return e.dial(t, "micro", service)
}

// user returns a client acting for an account of namespace with roles, as
// the proxy forwards it: the proxy's connection, the account's token.
func (e *env) user(t testing.TB, namespace string, roles ...string) registryv1.RegistryServiceClient {
	t.Helper()
	tok := e.token(t, namespace, "acct-"+namespace, "user", roles)
	return e.dial(t, "micro", "proxy", grpc.WithPerRPCCredentials(identity.BearerCredentials(tok)))
}

// workload returns a client that is the tenant's service
// namespace/service: its own mTLS identity with its service account's
// token, as a workload outside micro must call.
func (e *env) workload(t testing.TB, namespace, service string) registryv1.RegistryServiceClient {
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
		t.Fatalf("Sign = %v", err)
	}
	return tok
}
