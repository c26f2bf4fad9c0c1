package config_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/services/config/configserver"
	"m3o.dev/services/internal/corekit"
)

// TestServeFromFiles runs the config process as services/cmd/config does:
// certificate from files, token keys fetched from auth, and checks that a
// secret goes in and comes back out through it.
func TestServeFromFiles(t *testing.T) {
	e := newEnv(t, newRing(t))
	caFile, certFile, keyFile := writeBundle(t, e.ca, "config")
	cfg := corekit.Config{
		Address: "127.0.0.1:0", CAFile: caFile, CertFile: certFile, KeyFile: keyFile,
		Peers: corekit.Peers{"store": e.storeAddr, "auth": e.authAddr},
	}
	logs := &syncBuffer{}
	p, err := corekit.Open(t.Context(), configserver.Spec, cfg, slog.New(slog.NewTextHandler(logs, nil)), io.Discard)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(p.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- configserver.Run(ctx, configserver.Config{Keyring: newRing(t)}, p) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	})

	u := e.account(t, "tenant-a", "alice")
	u.client = e.config(t, p.Listener.Addr().String(), "micro", "proxy")
	mustSetSecret(t, u, "db.password", `"`+plaintext+`"`)
	if got := mustReveal(t, u, "db.password"); got != `"`+plaintext+`"` {
		t.Errorf("Get(db.password, secret) = %s, want the plaintext", got)
	}
	if strings.Contains(logs.String(), plaintext) {
		t.Errorf("process logs contain the secret:\n%s", logs)
	}
}

// TestOpenRefusesWrongIdentity checks that a process holding another
// service's certificate does not start as the config service.
func TestOpenRefusesWrongIdentity(t *testing.T) {
	caFile, certFile, keyFile := writeBundle(t, mtlstest.NewCA(t), "runtime")
	cfg := corekit.Config{Address: "127.0.0.1:0", CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	_, err := corekit.Open(t.Context(), configserver.Spec, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if !errors.Is(err, corekit.ErrConfig) {
		t.Errorf("Open(as micro/runtime) = %v, want ErrConfig", err)
	}
}

// writeBundle writes the certificate of micro/service and returns its files.
func writeBundle(t *testing.T, ca *mtls.CA, service string) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	if err := mtlstest.Bundle(t, ca, "micro", service).WriteFiles(dir, service); err != nil {
		t.Fatalf("WriteFiles(bundle) = %v", err)
	}
	return mtls.BundleFiles(dir, service)
}
