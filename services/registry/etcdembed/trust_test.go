package etcdembed_test

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/services/registry/etcdembed"
)

// TestOnlyTheRegistryReachesEtcd starts etcd under its own trust and tries
// it as anyone on the machine would: in plain text, over TLS with no
// certificate, and with a certificate of the platform CA (which will sign
// tenants' workloads). Only the registry's etcd client certificate gets a
// write through.
func TestOnlyTheRegistryReachesEtcd(t *testing.T) {
	dir := t.TempDir()
	pki, err := etcdembed.LoadOrCreatePKI(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatalf("LoadOrCreatePKI() = %v", err)
	}
	srv, err := etcdembed.Start(etcdembed.Options{Dir: filepath.Join(dir, "data"), TLS: &pki.Member})
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	defer srv.Close()
	registry, err := pki.Client.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	platform := mtlstest.Bundle(t, mtlstest.NewCA(t), "tenant-a", "greeter")
	tests := []struct {
		name string
		tls  *tls.Config
		ok   bool
	}{
		{"registry's etcd certificate", registry, true},
		{"plain text", nil, false},
		{"TLS without a certificate", &tls.Config{RootCAs: registry.RootCAs}, false},
		{"a platform CA certificate", &tls.Config{RootCAs: registry.RootCAs, Certificates: []tls.Certificate{platform.Cert}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := put(t, srv.Endpoints(), tt.tls); (err == nil) != tt.ok {
				t.Errorf("Put() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// put writes one key through a client with tlsConfig.
func put(t *testing.T, endpoints []string, tlsConfig *tls.Config) error {
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tlsConfig, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err = c.Put(ctx, "/micro/store", "fake node")
	return err
}
