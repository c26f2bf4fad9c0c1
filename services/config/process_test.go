package config_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/services/config/configserver"
)

// TestServeFromFiles runs the config process as services/cmd/config does:
// certificate and keyring from files, token keys fetched from auth, and
// checks that a secret goes in and comes back out through it.
func TestServeFromFiles(t *testing.T) {
	e := newEnv(t, newRing(t))
	dir := t.TempDir()
	if err := mtlstest.Bundle(t, e.ca, configID.Namespace, configID.Service).WriteFiles(dir, "config"); err != nil {
		t.Fatalf("WriteFiles(bundle) = %v", err)
	}
	keyFile := filepath.Join(dir, "config.key")
	if err := newRing(t).WriteFile(keyFile); err != nil {
		t.Fatalf("WriteFile(keyring) = %v", err)
	}
	caFile, certFile, certKeyFile := mtls.BundleFiles(dir, "config")
	cfg := configserver.Config{
		Address: "127.0.0.1:0", CAFile: caFile, CertFile: certFile, KeyFile: certKeyFile,
		StoreAddress: e.storeAddr, AuthAddress: e.authAddr, KeyringFile: keyFile,
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	lis, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- configserver.Serve(ctx, cfg, lis, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v, want nil", err)
		}
	})

	u := e.account(t, "tenant-a", "alice")
	u.client = e.config(t, lis.Addr().String(), "micro", "proxy")
	mustSetSecret(t, u, "db.password", `"`+plaintext+`"`)
	if got := mustReveal(t, u, "db.password"); got != `"`+plaintext+`"` {
		t.Errorf("Get(db.password, secret) = %s, want the plaintext", got)
	}
	if strings.Contains(logs.String(), plaintext) {
		t.Errorf("process logs contain the secret:\n%s", logs)
	}
}

// TestServeRefusesWrongIdentity checks that a process holding another
// service's certificate does not start as the config service.
func TestServeRefusesWrongIdentity(t *testing.T) {
	ca := mtlstest.NewCA(t)
	dir := t.TempDir()
	if err := mtlstest.Bundle(t, ca, "micro", "runtime").WriteFiles(dir, "runtime"); err != nil {
		t.Fatalf("WriteFiles(bundle) = %v", err)
	}
	caFile, certFile, keyFile := mtls.BundleFiles(dir, "runtime")
	ring, err := newRing(t).MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON() = %v", err)
	}
	cfg := configserver.Config{
		Address: "127.0.0.1:0", CAFile: caFile, CertFile: certFile, KeyFile: keyFile,
		StoreAddress: "127.0.0.1:1", AuthAddress: "127.0.0.1:1", Keyring: string(ring),
	}
	lis, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	err = configserver.Serve(t.Context(), cfg, lis, slog.New(slog.DiscardHandler))
	if !errors.Is(err, configserver.ErrConfig) {
		t.Errorf("Serve(as micro/runtime) = %v, want ErrConfig", err)
	}
}
