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
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/corekit/corekittest"
)

// serverID is the store's mTLS identity, which clients expect.
var serverID = mtls.Identity{Namespace: "micro", Service: "store"}

// TestRun serves a pebble store from certificate and key files, as the
// binary does, and uses it. It names an auth service that is never up, as
// in the moments after a deployment when the store already serves its core
// callers (here the config service, which needs no token) and auth has yet
// to start.
func TestRun(t *testing.T) {
	ca := mtlstest.NewCA(t)
	args := append(corekittest.CertFlags(t, ca, "store"),
		"--backend", "pebble", "--data-dir", filepath.Join(t.TempDir(), "data"), "--auth-address", "127.0.0.1:1")
	store := corekittest.Start(t, newApp(), args...)

	client := dial(t, store.Address, mtlstest.Bundle(t, ca, "micro", "config"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := client.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "k", Value: []byte("v")}}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("Write() = %v, want nil", err)
	}
	resp, err := client.Read(ctx, &storev1.ReadRequest{Key: "k"})
	if err != nil || string(resp.GetRecords()[0].GetValue()) != "v" {
		t.Fatalf("Read() = %v, %v, want v", resp, err)
	}
}

// TestRunRejectsBadBackend checks each backend takes exactly its own
// setting.
func TestRunRejectsBadBackend(t *testing.T) {
	certs := corekittest.CertFlags(t, mtlstest.NewCA(t), "store")
	tests := []struct {
		name string
		args []string
	}{
		{"unknown backend", []string{"--backend", "mongo"}},
		{"pebble without a directory", []string{"--backend", "pebble"}},
		{"cockroach without a DSN", []string{"--backend", "cockroach"}},
		{"memory with a DSN", []string{"--backend", "memory", "--dsn", "postgres://x"}},
		{"negative quota", []string{"--backend", "memory", "--quota-bytes", "-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := corekittest.Fails(t, newApp(), append(certs, tt.args...)...); !errors.Is(err, corekit.ErrConfig) {
				t.Errorf("store %v = %v, want ErrConfig", tt.args, err)
			}
		})
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
