package coretest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/config"
	"m3o.dev/services/config/configserver"
	"m3o.dev/services/internal/corekit"
)

// Users is every listener a platform running users' services needs: the
// store, registry, auth, config and the proxy.
var Users = []string{platform.Store, platform.Registry, platform.Auth, platform.Config, platform.Proxy}

// ServeUsers runs every core service users' services need, in the order
// they start in production, and waits until each serves; p must have the
// listeners named by Users.
func (p *Platform) ServeUsers(t testing.TB) {
	t.Helper()
	p.ServeStore(t)
	p.ServeRegistry(t)
	p.ServeAuth(t)
	p.ServeConfig(t)
	p.ServeProxy(t)
}

// ServeConfig runs the config service over the platform's store until the
// test ends, and waits until it serves.
func (p *Platform) ServeConfig(t testing.TB) {
	t.Helper()
	ring, err := config.GenerateKeyring()
	if err != nil {
		t.Fatalf("GenerateKeyring() = %v", err)
	}
	cfg := configserver.Config{Keyring: ring}
	p.Run(t, platform.Config, func(ctx context.Context, proc *corekit.Process) error { return configserver.Run(ctx, cfg, proc) })
}

// ProxyConn connects to the proxy's public port as the CLI does: TLS
// trusting the platform CA, no client certificate.
func (p *Platform) ProxyConn(t testing.TB) *grpc.ClientConn {
	t.Helper()
	creds := credentials.NewTLS(mtls.ClientRootsConfig(p.CA.Pool(), ""))
	conn, err := grpc.NewClient(p.Addr(platform.Proxy), grpc.WithTransportCredentials(creds),
		grpc.WithInitialWindowSize(grpcclient.FlowWindow), grpc.WithInitialConnWindowSize(grpcclient.FlowWindow))
	if err != nil {
		t.Fatalf("NewClient(proxy) = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// ServiceAccount creates the service account of ns/name as the runtime
// does, type service with role service, and returns its id and secret.
func (p *Platform) ServiceAccount(t testing.TB, ns, name string) (id, secret string) {
	t.Helper()
	secret = "service-secret-" + name
	_, admin := p.Login(t, platform.Namespace, "admin", AdminPassword)
	_, accounts := p.Auth(t)
	resp, err := accounts.Create(identity.WithBearer(t.Context(), admin), &authv1.CreateRequest{
		Namespace: ns, Name: name, Secret: secret, Type: authv1.AccountType_ACCOUNT_TYPE_SERVICE, Roles: []string{"service"},
	})
	if err != nil {
		t.Fatalf("Create(service account %s/%s) = %v", ns, name, err)
	}
	return resp.GetAccount().GetId(), secret
}

// InstanceEnv returns the environment the runtime gives an instance of
// the user's service ns/name: a service account made for it, a
// certificate from the platform CA under a new directory, and the proxy's
// address.
func (p *Platform) InstanceEnv(t testing.TB, ns, name string) service.Env {
	t.Helper()
	id, secret := p.ServiceAccount(t, ns, name)
	dir := t.TempDir()
	WriteInstanceCert(t, dir, mtlstest.Bundle(t, p.CA, ns, name))
	return service.Env{
		Address: "127.0.0.1:0", TLSDir: dir, Namespace: ns, Name: name, Instance: "1",
		Proxy: p.Addr(platform.Proxy), AccountID: id, AccountSecret: secret,
	}
}

// WriteInstanceCert writes b under dir as the runtime lays out
// MICRO_TLS_DIR: ca.pem, cert.pem and key.pem.
func WriteInstanceCert(t testing.TB, dir string, b *mtls.Bundle) {
	t.Helper()
	if err := b.WriteFiles(dir, "cert"); err != nil {
		t.Fatalf("WriteFiles() = %v", err)
	}
	if err := os.Rename(filepath.Join(dir, "cert-key.pem"), filepath.Join(dir, service.KeyFile)); err != nil {
		t.Fatalf("rename key: %v", err)
	}
}
