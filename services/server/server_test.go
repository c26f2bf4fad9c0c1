package server_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/proxy"
	"m3o.dev/services/server"
	"m3o.dev/services/store"
	"m3o.dev/services/store/pebble"
)

// config is a platform on pebble in dir, on ports the system picks.
func config(dir string) server.Config {
	return server.Config{
		DataDir: dir, RuntimeDir: testRuntimeDir(dir), Address: "127.0.0.1:0", HTTPAddress: "127.0.0.1:0",
		Store: server.StorePebble, AdminPassword: adminPassword,
		RateLimit: proxy.RateLimit{PerSecond: 100, Burst: 200},
	}
}

// running is a started platform whose stop waits for a clean exit.
type running struct {
	*server.Platform
	stop func() error
}

func start(t *testing.T, cfg server.Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := server.Start(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		cancel()
		t.Fatalf("Start() = %v", err)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return p.Wait()
	}
	t.Cleanup(func() { stop() })
	return &running{Platform: p, stop: stop}
}

// client connects to the public port as the CLI does.
func (r *running) client(t *testing.T) *grpc.ClientConn {
	t.Helper()
	pem, err := os.ReadFile(r.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", r.CAFile())
	}
	conn, err := grpc.NewClient(r.GRPCAddress(), grpc.WithTransportCredentials(credentials.NewTLS(mtls.ClientRootsConfig(pool, "127.0.0.1"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// login returns a context carrying the bootstrap admin's token.
func (r *running) login(t *testing.T, conn *grpc.ClientConn) context.Context {
	t.Helper()
	resp, err := authv1.NewAuthServiceClient(conn).Token(t.Context(), &authv1.TokenRequest{Id: "admin", Secret: adminPassword})
	if err != nil {
		t.Fatalf("Token(admin) = %v", err)
	}
	return identity.WithBearer(t.Context(), resp.GetToken().GetAccessToken())
}

// TestStartServeRestart starts the platform, writes through the public
// port, stops it cleanly and starts it again on the same data: the write
// is there, and the core services list themselves in the registry.
func TestStartServeRestart(t *testing.T) {
	dir := t.TempDir()
	r := start(t, config(dir))
	conn := r.client(t)
	admin := r.login(t, conn)
	store := storev1.NewStoreServiceClient(conn)
	if _, err := store.Write(admin, &storev1.WriteRequest{Record: &storev1.Record{Key: "k", Value: []byte("kept")}}); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	waitListed(t, registryv1.NewRegistryServiceClient(conn), admin, []string{"auth", "billing", "config", "proxy", "registry", "runtime", "store"})
	if err := r.stop(); err != nil {
		t.Fatalf("Wait() after a stop = %v, want nil", err)
	}

	r = start(t, config(dir))
	conn = r.client(t)
	resp, err := storev1.NewStoreServiceClient(conn).Read(r.login(t, conn), &storev1.ReadRequest{Key: "k"})
	if err != nil || string(resp.GetRecords()[0].GetValue()) != "kept" {
		t.Fatalf("Read() after a restart = %v, %v, want kept", resp, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil {
		t.Errorf("ca.pem in the data dir: %v", err)
	}
}

// TestSigningKeysSealedOnDisk checks what a copy of the data dir's store
// holds of the token signing keys: sealed seeds only, under the
// key-encryption key that the server generated beside it, readable by its
// owner alone.
func TestSigningKeysSealedOnDisk(t *testing.T) {
	dir := t.TempDir()
	r := start(t, config(dir))
	r.login(t, r.client(t))
	if err := r.stop(); err != nil {
		t.Fatalf("Wait() after a stop = %v, want nil", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "auth-key-encryption-key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("auth-key-encryption-key = %v, %v, want a file of mode 0600", fi, err)
	}
	b, err := pebble.Open(filepath.Join(dir, "store"), pebble.Options{})
	if err != nil {
		t.Fatalf("open the stopped server's store: %v", err)
	}
	page, err := b.Scan(t.Context(), store.Table{Database: "_auth", Name: "keys"}, store.Query{Limit: 100})
	b.Close()
	if err != nil || len(page.Records) == 0 {
		t.Fatalf("Scan(_auth/keys) = %d records, %v, want the signing keys", len(page.Records), err)
	}
	for _, rec := range page.Records {
		var k map[string]any
		if err := json.Unmarshal(rec.Value, &k); err != nil {
			t.Fatalf("key record %s: %v", rec.Key, err)
		}
		if _, clear := k["seed"]; clear || k["sealed_seed"] == nil {
			t.Errorf("key record %s holds fields %v, want a sealed seed and no seed", rec.Key, slices.Sorted(maps.Keys(k)))
		}
	}
	// The same data dir starts again: the key that sealed them is kept.
	r = start(t, config(dir))
	r.login(t, r.client(t))
}

// waitListed waits until the registry's micro domain lists want.
func waitListed(t *testing.T, client registryv1.RegistryServiceClient, ctx context.Context, want []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.ListServices(ctx, &registryv1.ListServicesRequest{Domain: "micro"})
		var got []string
		for _, s := range resp.GetServices() {
			got = append(got, s.GetName())
		}
		slices.Sort(got)
		if err == nil && slices.Equal(slices.Compact(got), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("micro domain lists %v, %v, want %v", got, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStartFailsCleanly starts a platform whose public address is taken:
// Start fails, and leaves nothing listening, so a second try on free
// ports succeeds on the same data dir.
func TestStartFailsCleanly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	cfg := config(dir)
	cfg.HTTPAddress = taken.Addr().String()
	if _, err := server.Start(t.Context(), cfg, slog.New(slog.DiscardHandler), io.Discard); err == nil {
		t.Fatal("Start() with the HTTP address taken = nil, want an error")
	}
	start(t, config(dir))
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*server.Config)
	}{
		{"no data dir", func(c *server.Config) { c.DataDir = "" }},
		{"bad address", func(c *server.Config) { c.Address = "8081" }},
		{"unknown store", func(c *server.Config) { c.Store = "bolt" }},
		{"cockroach without a DSN", func(c *server.Config) { c.Store = server.StoreCockroach }},
		{"pebble with a DSN", func(c *server.Config) { c.StoreDSN = "postgres://db" }},
		{"negative quota", func(c *server.Config) { c.QuotaBytes = -1 }},
		{"SMTP address without a port", func(c *server.Config) { c.Mail.SMTPAddress = "smtp.example.com" }},
		{"public address of every interface", func(c *server.Config) { c.PublicAddress = "0.0.0.0:8081" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t.TempDir())
			tt.change(&cfg)
			if _, err := server.Start(t.Context(), cfg, slog.New(slog.DiscardHandler), io.Discard); err == nil || errors.Is(err, context.Canceled) {
				t.Errorf("Start(%s) = %v, want a configuration error", tt.name, err)
			}
		})
	}
}

// TestDataDirIsPrivate starts a platform on a data dir an earlier version
// left loose (0755, and a key file 0644), writes through it, and checks
// that the dir and everything under it is 0700/0600 but the CA's public
// certificate.
func TestDataDirIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config-keys.json.old"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, config(dir))
	conn := r.client(t)
	if _, err := storev1.NewStoreServiceClient(conn).Write(r.login(t, conn), &storev1.WriteRequest{Record: &storev1.Record{Key: "k", Value: []byte("v")}}); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		switch {
		case d.IsDir():
			want = 0o700
		case path == filepath.Join(dir, "ca.pem"):
			want = 0o644
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s is %v, want %v", strings.TrimPrefix(path, dir), got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
