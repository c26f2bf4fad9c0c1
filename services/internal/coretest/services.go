package coretest

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/billingserver"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/proxy/proxyserver"
	regmemory "m3o.dev/services/registry/memory"
	"m3o.dev/services/registry/registryserver"
	"m3o.dev/services/store/memory"
	"m3o.dev/services/store/storeserver"
)

// ServeStore runs the store over a memory backend until the test ends,
// with token keys from the platform's auth, and waits until it serves.
func (p *Platform) ServeStore(t testing.TB) {
	t.Helper()
	cfg := storeserver.Config{Backend: memory.New(nil), SweepInterval: time.Minute}
	p.Run(t, platform.Store, func(ctx context.Context, proc *corekit.Process) error { return storeserver.Run(ctx, cfg, proc) })
}

// ServeAuth runs an auth service over the platform's store until the test
// ends, as authserver does but with cheap hashing and keys that sign at
// once; the store must be serving.
func (p *Platform) ServeAuth(t testing.TB) {
	t.Helper()
	cfg := auth.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AdminPassword = AdminPassword
	cfg.Hash = auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}
	cfg.KeyPublishDelay = 0
	cfg.KeyEncryptionKey = testKEK(t)
	p.Run(t, platform.Auth, func(ctx context.Context, proc *corekit.Process) error {
		conn, err := proc.Dial(platform.Store)
		if err != nil {
			return err
		}
		deps := auth.Deps{Store: storev1.NewStoreServiceClient(conn), Logger: proc.Logger}
		if proc.Peers[platform.Runtime] != "" {
			rt, err := proc.Dial(platform.Runtime)
			if err != nil {
				return err
			}
			deps.Quotas = runtimev1.NewRuntimeServiceClient(rt)
		}
		svc, err := auth.New(ctx, cfg, deps)
		if err != nil {
			return err
		}
		return proc.Serve(ctx, svc.Register, corekit.ServeOptions{
			Authenticator: svc.Authenticator(),
			Background:    []func(context.Context){svc.Run},
		})
	})
}

// Auth returns clients of the platform's auth service as users reach it:
// over the proxy's connection, which vouches for nobody, so that only
// bearer tokens count.
func (p *Platform) Auth(t testing.TB) (authv1.AuthServiceClient, authv1.AccountsServiceClient) {
	conn := p.Dial(t, p.Addr(platform.Auth), platform.Namespace, platform.Proxy, Core(platform.Auth))
	return authv1.NewAuthServiceClient(conn), authv1.NewAccountsServiceClient(conn)
}

// Login logs name in to ns and returns the account's id and access token.
func (p *Platform) Login(t testing.TB, ns, name, secret string) (id, token string) {
	t.Helper()
	a, _ := p.Auth(t)
	resp, err := a.Token(t.Context(), &authv1.TokenRequest{Namespace: ns, Id: name, Secret: secret})
	if err != nil {
		t.Fatalf("Token(%s/%s) = %v, want tokens", ns, name, err)
	}
	return resp.GetAccount().GetId(), resp.GetToken().GetAccessToken()
}

// Account creates the user account ns/name as the admin, logs it in and
// returns its id and access token.
func (p *Platform) Account(t testing.TB, ns, name string) (id, token string) {
	t.Helper()
	const secret = "account-secret-123"
	_, admin := p.Login(t, platform.Namespace, "admin", AdminPassword)
	_, accounts := p.Auth(t)
	_, err := accounts.Create(identity.WithBearer(t.Context(), admin), &authv1.CreateRequest{
		Namespace: ns, Name: name, Secret: secret, Type: authv1.AccountType_ACCOUNT_TYPE_USER,
	})
	if err != nil {
		t.Fatalf("Create(%s/%s) = %v, want an account", ns, name, err)
	}
	return p.Login(t, ns, name, secret)
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

// ServeBilling runs billing with provider until the test ends, its links
// pointing at publicURL; the store must be serving.
func (p *Platform) ServeBilling(t testing.TB, provider billing.Provider, publicURL string) {
	t.Helper()
	cfg := billingserver.Config{Provider: provider, PublicURL: publicURL, PollInterval: 50 * time.Millisecond}
	p.Run(t, platform.Billing, func(ctx context.Context, proc *corekit.Process) error { return billingserver.Run(ctx, cfg, proc) })
}

// ServeRegistry runs the registry over a memory backend until the test
// ends, and waits until it serves.
func (p *Platform) ServeRegistry(t testing.TB) {
	t.Helper()
	cfg := registryserver.Config{Backend: regmemory.New(regmemory.Options{})}
	p.Run(t, platform.Registry, func(ctx context.Context, proc *corekit.Process) error { return registryserver.Run(ctx, cfg, proc) })
}

// ServeProxy runs the public proxy on its listener until the test ends,
// relaying to every core service of the platform, with no rate limit and
// its HTTP port on a loopback listener of its own, and waits until it
// serves. Its certificate names the loopback hosts, so clients that check
// host names against the CA accept it.
func (p *Platform) ServeProxy(t testing.TB) {
	t.Helper()
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen(proxy HTTP) = %v", err)
	}
	t.Cleanup(func() { httpLis.Close() })
	p.mu.Lock()
	p.proxyHTTP = httpLis.Addr().String()
	p.mu.Unlock()
	cfg := proxyserver.Config{HTTPListener: httpLis, Router: mtlstest.Bundle(t, p.CA, platform.Namespace, platform.Router)}
	p.Run(t, platform.Proxy, func(ctx context.Context, proc *corekit.Process) error { return proxyserver.Run(ctx, cfg, proc) })
}

// ProxyHTTP returns the address of the HTTP port of the proxy ServeProxy
// started.
func (p *Platform) ProxyHTTP() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proxyHTTP
}
