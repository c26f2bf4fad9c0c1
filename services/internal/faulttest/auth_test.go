package faulttest_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/config"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/faulttest"
)

const adminPassword = "fault-admin-password"

// TestAuthKilled kills the auth service with SIGKILL while a tenant writes
// through the proxy to the store, each its own process. Tokens still
// verify from the keys the store and the proxy hold, so the writes go on
// while auth is away; logins fail with Unavailable meanwhile, and succeed
// again once auth is back. Nothing acknowledged is lost.
func TestAuthKilled(t *testing.T) {
	pl := startPlatform(t, layout{auth: 1})
	conn := pl.client(t)
	admin := login(t, conn, "micro", "admin", adminPassword)
	if _, err := authv1.NewAccountsServiceClient(conn).Create(admin, &authv1.CreateRequest{
		Namespace: "fault-space", Name: "dev", Secret: "dev-secret-123", Roles: []string{"developer"},
	}); err != nil {
		t.Fatalf("Create(fault-space/dev) = %v", err)
	}
	tenant := login(t, conn, "fault-space", "dev", "dev-secret-123")
	store := storev1.NewStoreServiceClient(conn)
	w := faulttest.Start(4, 25, func(ctx context.Context, key string, value []byte) error {
		_, err := store.Write(withTokenOf(ctx, tenant), &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value}})
		return err
	})
	w.WaitForAcks(t, 200)

	pl.auth[0].Kill9()
	w.WaitForAcks(t, w.Acks()+200) // while auth is away
	refused := loginCodes(t, conn, 5)
	pl.auth[0].Start()
	back := time.Now()
	relogin := loginAgain(t, conn)
	w.Stop()

	lost := w.Lost(t, func(ctx context.Context, key string) ([]byte, error) {
		resp, err := store.Read(withTokenOf(ctx, tenant), &storev1.ReadRequest{Key: key})
		if err != nil {
			return nil, err
		}
		return resp.GetRecords()[0].GetValue(), nil
	})
	t.Logf("auth killed: %d writes acknowledged, %d lost, write codes %v; logins while away %v; a login succeeded %v after auth was back",
		w.Acks(), lost, w.Codes(), refused, relogin.Sub(back).Round(time.Millisecond))
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost while auth was away", lost)
	}
	w.CheckCodes(t, "auth's absence")
	for _, code := range refused {
		if code != codes.Unavailable && code != codes.DeadlineExceeded {
			t.Errorf("a login while auth was away = %v, want Unavailable or DeadlineExceeded", code)
		}
	}
}

// platform is a store, replicas of the auth service, optionally replicas
// of the config service, and a proxy, each its own process.
type platform struct {
	ca        *mtls.CA
	proxyAddr string
	auth      []*faulttest.Process
	config    []*faulttest.Process
}

// layout says how many replicas of auth and of config a platform runs;
// the store and the proxy reach each set through one comma-separated
// address.
type layout struct{ auth, config int }

// startPlatform starts the platform l describes.
func startPlatform(t *testing.T, l layout) *platform {
	t.Helper()
	bins := faulttest.Build(t, "../../cmd", "store", "auth", "config", "proxy")
	ca := mtlstest.NewCA(t)
	addr := map[string]string{"store": freeAddress(t), "proxy": freeAddress(t)}
	authAddrs, configAddrs := freeAddresses(t, l.auth), freeAddresses(t, l.config)
	addr["auth"] = strings.Join(authAddrs, ",")
	flags := func(name string, extra ...string) []string {
		args := append(corekittest.CertFlags(t, ca, name), "--address", addr[name])
		return append(args, extra...)
	}
	faulttest.StartProcess(t, "store", bins["store"], nil, flags("store",
		"--backend", "pebble", "--data-dir", filepath.Join(t.TempDir(), "store"), "--auth-address", addr["auth"])...)
	pl := &platform{ca: ca, proxyAddr: addr["proxy"]}
	kek := make([]byte, 32)
	rand.Read(kek)
	authEnv := []string{"MICRO_ADMIN_PASSWORD=" + adminPassword, "MICRO_AUTH_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(kek)}
	for _, a := range authAddrs {
		args := append(corekittest.CertFlags(t, ca, "auth"), "--address", a,
			"--store-address", addr["store"], "--data-dir", filepath.Join(t.TempDir(), "auth"))
		pl.auth = append(pl.auth, faulttest.StartProcess(t, "auth", bins["auth"], authEnv, args...))
	}
	keyring := keyringFile(t)
	for _, a := range configAddrs {
		args := append(corekittest.CertFlags(t, ca, "config"), "--address", a, "--keyring-file", keyring,
			"--store-address", addr["store"], "--auth-address", addr["auth"])
		pl.config = append(pl.config, faulttest.StartProcess(t, "config", bins["config"], nil, args...))
	}
	routerDir := t.TempDir()
	if err := mtlstest.Bundle(t, ca, "micro", "router").WriteFiles(routerDir, "router"); err != nil {
		t.Fatal(err)
	}
	_, routerCert, routerKey := mtls.BundleFiles(routerDir, "router")
	proxyArgs := []string{"--store-address", addr["store"], "--auth-address", addr["auth"], "--http-address", freeAddress(t),
		"--router-cert-file", routerCert, "--router-key-file", routerKey, "--rate-limit", "0"}
	if len(configAddrs) > 0 {
		proxyArgs = append(proxyArgs, "--config-address", strings.Join(configAddrs, ","))
	}
	faulttest.StartProcess(t, "proxy", bins["proxy"], nil, flags("proxy", proxyArgs...)...)
	return pl
}

// freeAddresses returns n loopback addresses with free ports.
func freeAddresses(t *testing.T, n int) []string {
	var out []string
	for range n {
		out = append(out, freeAddress(t))
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

// client connects to the proxy as the CLI does, trusting the platform CA.
func (p *platform) client(t *testing.T) *grpc.ClientConn {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	conn, err := grpc.NewClient(p.proxyAddr, grpc.WithTransportCredentials(credentials.NewTLS(mtls.ClientRootsConfig(roots, "127.0.0.1"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// login logs name in to ns and returns a context carrying its token.
func login(t *testing.T, conn *grpc.ClientConn, ns, name, secret string) context.Context {
	t.Helper()
	resp, err := authv1.NewAuthServiceClient(conn).Token(t.Context(), &authv1.TokenRequest{Namespace: ns, Id: name, Secret: secret})
	if err != nil {
		t.Fatalf("Token(%s/%s) = %v", ns, name, err)
	}
	return identity.WithBearer(t.Context(), resp.GetToken().GetAccessToken())
}

// loginCodes tries n logins and returns the code of each.
func loginCodes(t *testing.T, conn *grpc.ClientConn, n int) []codes.Code {
	var out []codes.Code
	for range n {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := authv1.NewAuthServiceClient(conn).Token(ctx, &authv1.TokenRequest{Namespace: "fault-space", Id: "dev", Secret: "dev-secret-123"})
		cancel()
		out = append(out, status.Code(err))
		time.Sleep(100 * time.Millisecond)
	}
	return out
}

// loginAgain tries to log in until it succeeds, and returns when it did;
// two minutes without is an auth service that did not recover.
func loginAgain(t *testing.T, conn *grpc.ClientConn) time.Time {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		codes := loginCodes(t, conn, 1)
		if codes[0] == 0 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no login succeeded in 2 minutes after auth was back; the last: %v", codes[0])
		}
	}
}

// withTokenOf returns ctx carrying the token of from.
func withTokenOf(ctx, from context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(from)
	return metadata.NewOutgoingContext(ctx, md)
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestAuthReplicaKilled runs two auth replicas behind one comma-separated
// address, which the store and the proxy follow for keys and rules, and
// kills one with SIGKILL under a tenant's writes: logins and writes go on
// through the other, and nothing acknowledged is lost.
func TestAuthReplicaKilled(t *testing.T) {
	pl := startPlatform(t, layout{auth: 2})
	conn := pl.client(t)
	admin := login(t, conn, "micro", "admin", adminPassword)
	if _, err := authv1.NewAccountsServiceClient(conn).Create(admin, &authv1.CreateRequest{
		Namespace: "fault-space", Name: "dev", Secret: "dev-secret-123", Roles: []string{"developer"},
	}); err != nil {
		t.Fatalf("Create(fault-space/dev) = %v", err)
	}
	tenant := login(t, conn, "fault-space", "dev", "dev-secret-123")
	store := storev1.NewStoreServiceClient(conn)
	w := faulttest.Start(4, 25, func(ctx context.Context, key string, value []byte) error {
		_, err := store.Write(withTokenOf(ctx, tenant), &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value}})
		return err
	})
	w.WaitForAcks(t, 200)
	pl.auth[0].Kill9()
	killed := time.Now()
	relogin := loginAgain(t, conn)
	logins := loginCodes(t, conn, 10)
	w.WaitForAcks(t, w.Acks()+200)
	w.Stop()

	lost := w.Lost(t, func(ctx context.Context, key string) ([]byte, error) {
		resp, err := store.Read(withTokenOf(ctx, tenant), &storev1.ReadRequest{Key: key})
		if err != nil {
			return nil, err
		}
		return resp.GetRecords()[0].GetValue(), nil
	})
	t.Logf("one of two auth replicas killed: %d writes acknowledged, %d lost, write codes %v; a login succeeded %v after the kill, then %v",
		w.Acks(), lost, w.Codes(), relogin.Sub(killed).Round(time.Millisecond), logins)
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost when an auth replica died", lost)
	}
	w.CheckCodes(t, "an auth replica's death")
	for _, code := range logins {
		if code != codes.OK {
			t.Errorf("a login with one auth replica left = %v, want OK", code)
		}
	}
}
