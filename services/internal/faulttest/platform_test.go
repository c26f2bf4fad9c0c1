package faulttest_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/config"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/faulttest"
)

const adminPassword = "fault-admin-password"

// layout says how many replicas of each stateless service a platform
// runs; a zero count of config or billing runs none, of the others one.
// Every set is reached through one comma-separated address, as the peer
// flags take them.
type layout struct{ auth, config, billing, proxy int }

// platform is a store on Pebble and replicas of auth, config, billing and
// the proxy, each its own process.
type platform struct {
	ca      *mtls.CA
	bins    map[string]string
	addr    map[string]string
	auth    []*faulttest.Process
	config  []*faulttest.Process
	billing []*faulttest.Process
	proxy   []*faulttest.Process
}

// startPlatform starts the platform l describes.
func startPlatform(t *testing.T, l layout) *platform {
	t.Helper()
	pl := &platform{
		ca:   mtlstest.NewCA(t),
		bins: faulttest.Build(t, "../../cmd", "store", "auth", "config", "billing", "proxy"),
		addr: map[string]string{"store": faulttest.Address(t)},
	}
	replicas := map[string][]string{
		"auth": heldAddresses(t, max(l.auth, 1)), "config": heldAddresses(t, l.config),
		"billing": heldAddresses(t, l.billing), "proxy": heldAddresses(t, max(l.proxy, 1)),
	}
	for name, addrs := range replicas {
		pl.addr[name] = strings.Join(addrs, ",")
	}
	pl.start(t, "store", pl.addr["store"], nil, "--backend", "pebble", "--data-dir", filepath.Join(t.TempDir(), "store"))
	for _, a := range replicas["auth"] {
		pl.auth = append(pl.auth, pl.start(t, "auth", a, authEnv(), "--data-dir", filepath.Join(t.TempDir(), "auth")))
	}
	keyring := keyringFile(t)
	for _, a := range replicas["config"] {
		pl.config = append(pl.config, pl.start(t, "config", a, nil, "--keyring-file", keyring))
	}
	for _, a := range replicas["billing"] {
		pl.billing = append(pl.billing, pl.start(t, "billing", a, nil, "--provider", "local", "--public-url", "http://127.0.0.1:1"))
	}
	router := routerFlags(t, pl.ca)
	for _, a := range replicas["proxy"] {
		pl.proxy = append(pl.proxy, pl.start(t, "proxy", a, nil, append(router, "--http-address", faulttest.Address(t), "--rate-limit", "0")...))
	}
	return pl
}

// start starts one replica of the core service name at addr, with the
// addresses of every peer the platform runs.
func (pl *platform) start(t *testing.T, name, addr string, env []string, extra ...string) *faulttest.Process {
	args := append(corekittest.CertFlags(t, pl.ca, name), "--address", addr)
	for _, peer := range peersOf[name] {
		if pl.addr[peer] != "" {
			args = append(args, "--"+peer+"-address", pl.addr[peer])
		}
	}
	return faulttest.StartProcess(t, name, pl.bins[name], env, append(args, extra...)...)
}

// peersOf are the core services each one calls, as its flags name them.
var peersOf = map[string][]string{
	"store":   {"auth"},
	"auth":    {"store"},
	"config":  {"store", "auth"},
	"billing": {"store", "auth"},
	"proxy":   {"store", "auth", "config", "billing"},
}

// authEnv is every auth replica's bootstrap admin password and key
// encryption key.
var authEnv = sync.OnceValue(func() []string {
	kek := make([]byte, 32)
	rand.Read(kek)
	return []string{"MICRO_ADMIN_PASSWORD=" + adminPassword, "MICRO_AUTH_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(kek)}
})

// routerFlags give the proxy its micro/router certificate.
func routerFlags(t *testing.T, ca *mtls.CA) []string {
	dir := t.TempDir()
	if err := mtlstest.Bundle(t, ca, "micro", "router").WriteFiles(dir, "router"); err != nil {
		t.Fatal(err)
	}
	_, cert, key := mtls.BundleFiles(dir, "router")
	return []string{"--router-cert-file", cert, "--router-key-file", key}
}

// client connects to the proxies as the CLI does, trusting the platform
// CA; with several replicas, calls go round-robin over those that are up.
func (pl *platform) client(t *testing.T) *grpc.ClientConn {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(pl.ca.Cert)
	target, balance, err := grpcclient.ReplicaTarget(pl.addr["proxy"])
	if err != nil {
		t.Fatal(err)
	}
	creds := grpc.WithTransportCredentials(credentials.NewTLS(mtls.ClientRootsConfig(roots, "127.0.0.1")))
	conn, err := grpc.NewClient(target, append(balance, creds)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// heldAddresses returns n loopback addresses held for the processes that
// will listen on them (faulttest.Address).
func heldAddresses(t *testing.T, n int) []string {
	var out []string
	for range n {
		out = append(out, faulttest.Address(t))
	}
	return out
}

// keyringFile writes a new config keyring, shared by every config replica.
func keyringFile(t *testing.T) string {
	t.Helper()
	ring, err := config.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "keyring.json")
	if err := ring.WriteFile(file); err != nil {
		t.Fatal(err)
	}
	return file
}

// withTokenOf returns ctx carrying the token of from.
func withTokenOf(ctx, from context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(from)
	return metadata.NewOutgoingContext(ctx, md)
}

// newTenant creates the account fault-space/dev as the admin and returns
// a context carrying its token.
func newTenant(t *testing.T, conn *grpc.ClientConn) context.Context {
	t.Helper()
	admin := login(t, conn, "micro", "admin", adminPassword)
	if _, err := authv1.NewAccountsServiceClient(conn).Create(admin, &authv1.CreateRequest{
		Namespace: "fault-space", Name: "dev", Secret: "dev-secret-123", Roles: []string{"developer"},
	}); err != nil {
		t.Fatalf("Create(fault-space/dev) = %v", err)
	}
	return login(t, conn, "fault-space", "dev", "dev-secret-123")
}

// storeWrites writes records as tenant; storeReads reads them back.
func storeWrites(store storev1.StoreServiceClient, tenant context.Context) faulttest.WriteFunc {
	return func(ctx context.Context, key string, value []byte) error {
		_, err := store.Write(withTokenOf(ctx, tenant), &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value}})
		return err
	}
}

func storeReads(store storev1.StoreServiceClient, tenant context.Context) faulttest.ReadFunc {
	return func(ctx context.Context, key string) ([]byte, error) {
		resp, err := store.Read(withTokenOf(ctx, tenant), &storev1.ReadRequest{Key: key})
		if err != nil {
			return nil, err
		}
		return resp.GetRecords()[0].GetValue(), nil
	}
}
