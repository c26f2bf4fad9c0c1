package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/corekit/corekittest"
)

// TestRun serves the registry on an embedded etcd, as the binary does,
// while auth is not up: core services must get through regardless.
func TestRun(t *testing.T) {
	ca := mtlstest.NewCA(t)
	args := append(corekittest.CertFlags(t, ca, "registry"),
		"--embedded-etcd-dir", filepath.Join(t.TempDir(), "etcd"), "--auth-address", "127.0.0.1:1")
	registry := corekittest.Start(t, newApp(), args...)

	conn, err := grpcclient.Dial(registry.Address, mtlstest.Bundle(t, ca, "micro", "runtime"), mtls.Identity{Namespace: "micro", Service: "registry"})
	if err != nil {
		t.Fatalf("Dial = %v", err)
	}
	defer conn.Close()
	client := registryv1.NewRegistryServiceClient(conn)
	svc := &registryv1.Service{Name: "store", Nodes: []*registryv1.Node{{Id: "n1", Address: "127.0.0.1:9001"}}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := client.Register(ctx, &registryv1.RegisterRequest{Service: svc}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("Register = %v, want nil", err)
	}
	resp, err := client.GetService(ctx, &registryv1.GetServiceRequest{Name: "store"})
	if err != nil || len(resp.GetServices()) != 1 {
		t.Fatalf("GetService = %v, %v, want one version", resp, err)
	}
}

func TestRunRejectsBadBackend(t *testing.T) {
	certs := corekittest.CertFlags(t, mtlstest.NewCA(t), "registry")
	tests := []struct {
		name string
		args []string
	}{
		{"unknown backend", []string{"--backend", "consul"}},
		{"etcd with neither endpoints nor a directory", []string{"--backend", "etcd"}},
		{"memory with etcd endpoints", []string{"--backend", "memory", "--etcd-endpoints", "127.0.0.1:2379"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := corekittest.Fails(t, newApp(), append(certs, tt.args...)...); !errors.Is(err, corekit.ErrConfig) {
				t.Errorf("registry %v = %v, want ErrConfig", tt.args, err)
			}
		})
	}
}
