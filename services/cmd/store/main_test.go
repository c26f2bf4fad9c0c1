package main

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/store/storeserver"
)

var discard = slog.New(slog.DiscardHandler)

// serverID is the store's mTLS identity, which clients expect.
var serverID = mtls.Identity{Namespace: "micro", Service: "store"}

// parse runs the app on args and returns the Config it would serve.
func parse(t *testing.T, args ...string) storeserver.Config {
	t.Helper()
	var got storeserver.Config
	app := newApp(discard, func(_ context.Context, cfg storeserver.Config, _ *slog.Logger) error {
		got = cfg
		return nil
	})
	if err := app.Run(append([]string{"store"}, args...)); err != nil {
		t.Fatalf("Run(%q) = %v", args, err)
	}
	return got
}

func TestFlags(t *testing.T) {
	defaults := storeserver.Config{Backend: "pebble", Address: "127.0.0.1:8083", SweepInterval: time.Minute}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want storeserver.Config
	}{
		{name: "defaults", want: defaults},
		{
			name: "environment",
			env: map[string]string{
				"MICRO_STORE_BACKEND": "cockroach", "MICRO_STORE_DSN": "postgres://db/store", "MICRO_STORE_DATA_DIR": "/data",
				"MICRO_STORE_ADDRESS": ":9", "MICRO_STORE_QUOTA_BYTES": "1048576", "MICRO_STORE_SWEEP_INTERVAL": "30s",
				"MICRO_STORE_CA_FILE": "ca", "MICRO_STORE_CERT_FILE": "cert", "MICRO_STORE_KEY_FILE": "key",
				"MICRO_STORE_AUTH_ADDRESS": "auth:8084",
			},
			want: storeserver.Config{
				Backend: "cockroach", DSN: "postgres://db/store", DataDir: "/data", Address: ":9", QuotaBytes: 1 << 20,
				SweepInterval: 30 * time.Second, CAFile: "ca", CertFile: "cert", KeyFile: "key", AuthAddress: "auth:8084",
			},
		},
		{
			name: "flag wins over environment",
			env:  map[string]string{"MICRO_STORE_BACKEND": "cockroach", "MICRO_STORE_ADDRESS": ":9", "MICRO_STORE_QUOTA_BYTES": "5"},
			args: []string{"--backend", "memory", "--quota-bytes", "7"},
			want: storeserver.Config{Backend: "memory", Address: ":9", QuotaBytes: 7, SweepInterval: time.Minute},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if diff := cmp.Diff(tt.want, parse(t, tt.args...)); diff != "" {
				t.Errorf("Config from %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	files := writeFiles(t, t.TempDir(), mtlstest.NewCA(t))
	tests := []struct {
		name string
		cfg  storeserver.Config
	}{
		{"unknown backend", files.config("mongo", "", "")},
		{"pebble without a directory", files.config("pebble", "", "")},
		{"cockroach without a DSN", files.config("cockroach", "", "")},
		{"memory with a DSN", files.config("memory", "postgres://x", "")},
		{"no certificate", storeserver.Config{Backend: "memory", Address: "127.0.0.1:0", SweepInterval: time.Minute}},
		{"bad address", func() storeserver.Config { c := files.config("memory", "", ""); c.Address = "nowhere"; return c }()},
		{"negative quota", func() storeserver.Config { c := files.config("memory", "", ""); c.QuotaBytes = -1; return c }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := run(t.Context(), tt.cfg, discard); err == nil {
				t.Errorf("run(%+v) = nil, want an error", tt.cfg)
			}
		})
	}
}

// TestRun serves a pebble store from certificate and key files, as the
// binary does, and uses it.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t)
	files := writeFiles(t, dir, ca)
	cfg := files.config("pebble", "", filepath.Join(dir, "data"))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, discard) }()

	client := dial(t, files.address, mtlstest.Bundle(t, ca, "tenant-a", "greeter"))
	callCtx, callCancel := context.WithTimeout(ctx, time.Minute)
	defer callCancel()
	// The server may still be starting; wait for it rather than race.
	if _, err := client.Write(callCtx, &storev1.WriteRequest{Record: &storev1.Record{Key: "k", Value: []byte("v")}}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("Write() = %v, want nil", err)
	}
	resp, err := client.Read(callCtx, &storev1.ReadRequest{Key: "k"})
	if err != nil || string(resp.GetRecords()[0].GetValue()) != "v" {
		t.Fatalf("Read() = %v, %v, want v", resp, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel = %v, want nil", err)
	}
}

// files are the certificate and key files of a store.
type files struct {
	caFile, certFile, keyFile string
	address                   string
}

// writeFiles writes the store's certificate and key under dir, and picks a
// free address.
func writeFiles(t *testing.T, dir string, ca *mtls.CA) files {
	t.Helper()
	if err := mtlstest.Bundle(t, ca, serverID.Namespace, serverID.Service).WriteFiles(dir, "store"); err != nil {
		t.Fatalf("WriteFiles() = %v", err)
	}
	f := files{address: freeAddress(t)}
	f.caFile, f.certFile, f.keyFile = mtls.BundleFiles(dir, "store")
	return f
}

// config is a complete Config for backend with these files. It names an
// auth service that is never up, as in the moments after a deployment
// when the store already serves its core callers and auth has yet to
// start.
func (f files) config(backend, dsn, dataDir string) storeserver.Config {
	return storeserver.Config{
		Backend: backend, DSN: dsn, DataDir: dataDir, Address: f.address, SweepInterval: time.Minute,
		CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.keyFile, AuthAddress: "127.0.0.1:1",
	}
}

// dial returns a client of the store at address with bundle's identity.
func dial(t *testing.T, address string, bundle *mtls.Bundle) storev1.StoreServiceClient {
	t.Helper()
	conn, err := grpcclient.Dial(address, bundle, serverID)
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return storev1.NewStoreServiceClient(conn)
}

// freeAddress returns a loopback address with a port free a moment ago.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
