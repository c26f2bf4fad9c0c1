// Package coretest runs real core services on mTLS loopback listeners, as
// they run in production, for the tests of the process wiring packages
// (storeserver, registryserver, proxyserver): a store over the memory
// backend, an auth service over that store, and logged-in accounts.
//
// Auth runs with cheap password hashing and keys that sign at once; every
// other setting is the production one.
package coretest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/store/memory"
	"m3o.dev/services/store/storeserver"
)

// AdminPassword is the bootstrap admin's password.
const AdminPassword = "admin-password-123"

// settle bounds how long a service may take to come up or to pick up
// auth's keys; it only keeps a broken build from hanging.
const settle = 30 * time.Second

// Core returns the identity of the core service name.
func Core(name string) mtls.Identity {
	return mtls.Identity{Namespace: identity.PlatformNamespace, Service: name}
}

// Files writes the certificate and key of micro/service, issued by ca, in a
// directory of the test's and returns the CA, certificate and key files.
func Files(t testing.TB, ca *mtls.CA, service string) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	if err := mtlstest.Bundle(t, ca, identity.PlatformNamespace, service).WriteFiles(dir, service); err != nil {
		t.Fatalf("WriteFiles(%s) = %v", service, err)
	}
	return mtls.BundleFiles(dir, service)
}

// FreeAddress returns a loopback address with a port that was free a
// moment ago, for a service that must be known before it listens.
func FreeAddress(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// Dial connects to addr as the mTLS identity ns/svc, expecting the server
// to be expect, until the test ends.
func Dial(t testing.TB, ca *mtls.CA, addr, ns, svc string, expect mtls.Identity) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.Dial(addr, mtlstest.Bundle(t, ca, ns, svc), expect)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", expect, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// WaitServing waits until the core service name answers health checks on
// addr.
func WaitServing(t testing.TB, ca *mtls.CA, addr, name string) {
	t.Helper()
	conn := Dial(t, ca, addr, identity.PlatformNamespace, "coretest", Core(name))
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("%s at %s not serving after %s: %v", name, addr, settle, err)
	}
}

// ServeStore runs the store process over a memory backend on addr, with
// token keys from the auth service at authAddr (none when empty), until
// the test ends, and waits until it serves.
func ServeStore(t testing.TB, ca *mtls.CA, addr, authAddr string) {
	t.Helper()
	caFile, certFile, keyFile := Files(t, ca, "store")
	cfg := storeserver.Config{
		Backend: storeserver.BackendMemory, Address: addr, SweepInterval: time.Minute,
		CAFile: caFile, CertFile: certFile, KeyFile: keyFile, AuthAddress: authAddr,
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("store Validate() = %v", err)
	}
	backend := memory.New(nil)
	Go(t, "store Serve", func(ctx context.Context) error {
		return storeserver.Serve(ctx, cfg, backend, slog.New(slog.DiscardHandler))
	})
	WaitServing(t, ca, addr, "store")
}

// ServeAuth runs an auth service on addr over the store at storeAddr until
// the test ends; the store must be serving.
func ServeAuth(t testing.TB, ca *mtls.CA, addr, storeAddr string) {
	t.Helper()
	cfg := auth.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AdminPassword = AdminPassword
	cfg.Hash = auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}
	cfg.KeyPublishDelay = 0
	bundle := mtlstest.Bundle(t, ca, identity.PlatformNamespace, "auth")
	conn := Dial(t, ca, storeAddr, identity.PlatformNamespace, "auth", Core("store"))
	svc, err := auth.New(t.Context(), cfg, auth.Deps{Store: storev1.NewStoreServiceClient(conn), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("auth.New() = %v", err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("Listen(%s) = %v", addr, err)
	}
	srv := svc.Server(bundle.ServerConfig())
	Go(t, "auth Serve", func(ctx context.Context) error { return srv.Serve(ctx, lis) })
	Go(t, "auth Run", func(ctx context.Context) error { svc.Run(ctx); return nil })
}

// Auth returns clients of the auth service at addr as users reach it: over
// the proxy's connection, which vouches for nobody, so that only bearer
// tokens count.
func Auth(t testing.TB, ca *mtls.CA, addr string) (authv1.AuthServiceClient, authv1.AccountsServiceClient) {
	conn := Dial(t, ca, addr, identity.PlatformNamespace, "proxy", Core("auth"))
	return authv1.NewAuthServiceClient(conn), authv1.NewAccountsServiceClient(conn)
}

// Login logs name in to ns through the auth service at addr and returns
// the account's id and access token.
func Login(t testing.TB, ca *mtls.CA, addr, ns, name, secret string) (id, token string) {
	t.Helper()
	a, _ := Auth(t, ca, addr)
	resp, err := a.Token(t.Context(), &authv1.TokenRequest{Namespace: ns, Id: name, Secret: secret})
	if err != nil {
		t.Fatalf("Token(%s/%s) = %v, want tokens", ns, name, err)
	}
	return resp.GetAccount().GetId(), resp.GetToken().GetAccessToken()
}

// Account creates the user account ns/name as the admin, through the auth
// service at addr, logs it in and returns its id and access token.
func Account(t testing.TB, ca *mtls.CA, addr, ns, name string) (id, token string) {
	t.Helper()
	const secret = "account-secret-123"
	_, admin := Login(t, ca, addr, identity.PlatformNamespace, "admin", AdminPassword)
	_, accounts := Auth(t, ca, addr)
	_, err := accounts.Create(identity.WithBearer(t.Context(), admin), &authv1.CreateRequest{
		Namespace: ns, Name: name, Secret: secret, Type: authv1.AccountType_ACCOUNT_TYPE_USER,
	})
	if err != nil {
		t.Fatalf("Create(%s/%s) = %v, want an account", ns, name, err)
	}
	return Login(t, ca, addr, ns, name, secret)
}

// Go runs f until the test ends, then cancels its context and waits for it,
// reporting what it returned unless that was nil or a cancellation.
func Go(t testing.TB, what string, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("%s = %v", what, err)
		}
	})
}

// Eventually calls f until it returns nil, for as long as a service may
// take to settle, and fails the test with f's last error otherwise.
func Eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after %s", what, err, settle)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
