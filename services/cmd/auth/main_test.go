package main

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/auth/authserver"
	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
)

// parse runs the app on args and returns the Config it would serve.
func parse(t *testing.T, args ...string) authserver.Config {
	t.Helper()
	var got authserver.Config
	app := newApp(func(_ context.Context, cfg authserver.Config) error {
		got = cfg
		return nil
	})
	if err := app.Run(append([]string{"auth"}, args...)); err != nil {
		t.Fatalf("Run(%q) = %v", args, err)
	}
	return got
}

func TestFlags(t *testing.T) {
	defaults := authserver.Config{Address: "127.0.0.1:8084", DataDir: "/var/lib/m3o/auth", LogFormat: "json", LogLevel: "info"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want authserver.Config
	}{
		{name: "defaults", want: defaults},
		{
			name: "environment",
			env: map[string]string{
				"MICRO_AUTH_ADDRESS": ":9", "MICRO_AUTH_DATA_DIR": "/data", "MICRO_AUTH_CA_FILE": "ca",
				"MICRO_AUTH_CERT_FILE": "cert", "MICRO_AUTH_KEY_FILE": "key", "MICRO_AUTH_STORE_ADDRESS": "store:1",
				"MICRO_AUTH_LOG_FORMAT": "text", "MICRO_AUTH_LOG_LEVEL": "debug", "MICRO_ADMIN_PASSWORD": "from-env-only",
			},
			want: authserver.Config{
				Address: ":9", DataDir: "/data", CAFile: "ca", CertFile: "cert", KeyFile: "key", StoreAddress: "store:1",
				LogFormat: "text", LogLevel: "debug", AdminPassword: "from-env-only",
			},
		},
		{
			name: "flag wins over environment",
			env:  map[string]string{"MICRO_AUTH_ADDRESS": ":9", "MICRO_AUTH_STORE_ADDRESS": "store:1"},
			args: []string{"--address", ":10", "--log-format", "text"},
			want: authserver.Config{Address: ":10", DataDir: "/var/lib/m3o/auth", StoreAddress: "store:1", LogFormat: "text", LogLevel: "info"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The password comes from the environment alone; clear any the
			// test process inherited.
			t.Setenv("MICRO_ADMIN_PASSWORD", tt.env["MICRO_ADMIN_PASSWORD"])
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if diff := cmp.Diff(tt.want, parse(t, tt.args...)); diff != "" {
				t.Errorf("Config from %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := authserver.Config{Address: ":1", DataDir: "/d", CAFile: "c", CertFile: "c", KeyFile: "k", StoreAddress: "s:1", LogFormat: "json"}
	tests := []struct {
		name   string
		change func(*authserver.Config)
		ok     bool
	}{
		{"complete", func(*authserver.Config) {}, true},
		{"no certificate", func(c *authserver.Config) { c.CertFile = "" }, false},
		{"no store", func(c *authserver.Config) { c.StoreAddress = "" }, false},
		{"bad address", func(c *authserver.Config) { c.Address = "nowhere" }, false},
		{"no data dir", func(c *authserver.Config) { c.DataDir = "" }, false},
		{"unknown log format", func(c *authserver.Config) { c.LogFormat = "xml" }, false},
		{"short admin password", func(c *authserver.Config) { c.AdminPassword = "short" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			if err := cfg.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestRun serves auth from certificate files against a real store service,
// as the binary does, and logs in.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t)
	if err := mtlstest.Bundle(t, ca, "micro", "auth").WriteFiles(dir, "auth"); err != nil {
		t.Fatalf("WriteFiles() = %v", err)
	}
	caFile, certFile, keyFile := mtls.BundleFiles(dir, "auth")
	cfg := authserver.Config{
		Address: freeAddress(t), DataDir: dir, CAFile: caFile, CertFile: certFile, KeyFile: keyFile,
		StoreAddress: serveStore(t, ca), AdminPassword: "admin-password-123", LogFormat: "text", LogLevel: "error",
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg) }()

	conn, err := grpcclient.Dial(cfg.Address, mtlstest.Bundle(t, ca, "micro", "proxy"), mtls.Identity{Namespace: "micro", Service: "auth"})
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	defer conn.Close()
	callCtx, callCancel := context.WithTimeout(ctx, time.Minute)
	defer callCancel()
	// The service bootstraps before it listens; wait for it rather than race.
	resp, err := authv1.NewAuthServiceClient(conn).Token(callCtx,
		&authv1.TokenRequest{Id: "admin", Secret: "admin-password-123"}, grpc.WaitForReady(true))
	if err != nil || resp.GetToken().GetAccessToken() == "" {
		t.Fatalf("Token(admin) = %v, want tokens", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run() after cancel = %v, want nil", err)
	}
}

// serveStore serves a memory-backed store service until the test ends.
func serveStore(t *testing.T, ca *mtls.CA) string {
	t.Helper()
	a := identity.NewAuthenticator(nil)
	srv := grpcserver.New(grpcserver.Options{
		TLS:   mtlstest.Bundle(t, ca, "micro", "store").ServerConfig(),
		Unary: []grpc.UnaryServerInterceptor{a.UnaryInterceptor()},
	})
	storev1.RegisterStoreServiceServer(srv.GRPC(), store.New(memory.New(nil), nil, store.Options{}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("store Serve() = %v", err)
		}
	})
	return lis.Addr().String()
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
