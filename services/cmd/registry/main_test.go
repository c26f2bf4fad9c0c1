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
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/registry/registryserver"
)

var discard = slog.New(slog.DiscardHandler)

// parse runs the app on args and returns the Config it would serve.
func parse(t *testing.T, args ...string) registryserver.Config {
	t.Helper()
	var got registryserver.Config
	app := newApp(discard, func(_ context.Context, cfg registryserver.Config, _ *slog.Logger) error {
		got = cfg
		return nil
	})
	if err := app.Run(append([]string{"registry"}, args...)); err != nil {
		t.Fatalf("Run(%q) = %v", args, err)
	}
	return got
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want registryserver.Config
	}{
		{
			name: "defaults",
			want: registryserver.Config{Backend: "etcd", Address: "127.0.0.1:8082"},
		},
		{
			name: "environment",
			env: map[string]string{
				"MICRO_REGISTRY_BACKEND": "memory", "MICRO_REGISTRY_ETCD_ENDPOINTS": "a:1,b:2",
				"MICRO_REGISTRY_EMBEDDED_ETCD_DIR": "/data", "MICRO_REGISTRY_ADDRESS": ":9",
				"MICRO_REGISTRY_CA_FILE": "ca", "MICRO_REGISTRY_CERT_FILE": "cert", "MICRO_REGISTRY_KEY_FILE": "key",
				"MICRO_REGISTRY_AUTH_ADDRESS": "auth:8084",
			},
			want: registryserver.Config{
				Backend: "memory", EtcdEndpoints: []string{"a:1", "b:2"}, EmbeddedEtcdDir: "/data", Address: ":9",
				CAFile: "ca", CertFile: "cert", KeyFile: "key", AuthAddress: "auth:8084",
			},
		},
		{
			name: "flag wins over environment",
			env:  map[string]string{"MICRO_REGISTRY_BACKEND": "memory", "MICRO_REGISTRY_ADDRESS": ":9"},
			args: []string{"--backend", "etcd", "--etcd-endpoints", "c:3"},
			want: registryserver.Config{Backend: "etcd", EtcdEndpoints: []string{"c:3"}, Address: ":9"},
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

// TestRun serves the registry on an embedded etcd from certificate and key
// files, as the binary does, and uses it.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t)
	if err := mtlstest.Bundle(t, ca, "micro", "registry").WriteFiles(dir, "registry"); err != nil {
		t.Fatalf("WriteFiles = %v", err)
	}
	caFile, certFile, keyFile := mtls.BundleFiles(dir, "registry")
	cfg := registryserver.Config{
		Backend: "etcd", EmbeddedEtcdDir: filepath.Join(dir, "etcd"), Address: freeAddress(t),
		CAFile: caFile, CertFile: certFile, KeyFile: keyFile,
		// Auth is not up: core services must get through regardless.
		AuthAddress: "127.0.0.1:1",
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, discard) }()

	conn, err := grpcclient.Dial(cfg.Address, mtlstest.Bundle(t, ca, "micro", "runtime"), mtls.Identity{Namespace: "micro", Service: "registry"})
	if err != nil {
		t.Fatalf("Dial = %v", err)
	}
	defer conn.Close()
	client := registryv1.NewRegistryServiceClient(conn)
	svc := &registryv1.Service{Name: "store", Nodes: []*registryv1.Node{{Id: "n1", Address: "127.0.0.1:9001"}}}
	callCtx, callCancel := context.WithTimeout(ctx, time.Minute)
	defer callCancel()
	// The server may still be starting etcd; wait for it rather than race.
	if _, err := client.Register(callCtx, &registryv1.RegisterRequest{Service: svc}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("Register = %v, want nil", err)
	}
	resp, err := client.GetService(callCtx, &registryv1.GetServiceRequest{Name: "store"})
	if err != nil || len(resp.GetServices()) != 1 {
		t.Fatalf("GetService = %v, %v, want one version", resp, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel = %v, want nil", err)
	}
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen = %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
