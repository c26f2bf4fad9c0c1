package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	"m3o.dev/services/config"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/coretest"
)

// keyringFile writes a new keyring and returns its file.
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

// TestRenamedFlagsStillWork runs the command with the certificate flags'
// old names, as a deployment of the last release does: it must serve, and
// say which names to move to.
func TestRenamedFlagsStillWork(t *testing.T) {
	p := coretest.New(t, platform.Store)
	p.ServeStore(t)
	certs := corekittest.CertFlags(t, p.CA, "config")
	old := []string{"--tls-ca-file", certs[1], "--tls-cert-file", certs[3], "--tls-key-file", certs[5]}
	args := append(old, "--keyring-file", keyringFile(t), "--store-address", p.Addr(platform.Store))
	cfg := corekittest.Start(t, newApp(), args...)

	conn := p.Dial(t, cfg.Address, "micro", "proxy", coretest.Core("config"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("health Check() = %v, want SERVING", err)
	}
	for _, hint := range []string{"--tls-ca-file", "--tls-cert-file", "--tls-key-file"} {
		if !strings.Contains(cfg.Logs(), hint) {
			t.Errorf("logs do not mention the deprecated %s:\n%s", hint, cfg.Logs())
		}
	}
}

// TestKeyringInKeyFileIsNamed checks the one old use that cannot stay an
// alias: a keyring passed as --key-file gets a sentence saying where it
// goes now.
func TestKeyringInKeyFileIsNamed(t *testing.T) {
	certs := corekittest.CertFlags(t, mtlstest.NewCA(t), "config")
	certs[5] = keyringFile(t) // --key-file
	err := corekittest.Fails(t, newApp(), certs...)
	if !errors.Is(err, corekit.ErrConfig) || !strings.Contains(err.Error(), "--keyring-file") {
		t.Errorf("config --key-file KEYRING = %v, want ErrConfig naming --keyring-file", err)
	}
}

func TestKeyringFromTheEnvironment(t *testing.T) {
	data, err := os.ReadFile(keyringFile(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, env string
		ok              bool
	}{
		{"file", keyringFile(t), "", true},
		{"environment", "", string(data), true},
		{"both", keyringFile(t), string(data), false},
		{"neither", "", "", false},
		{"malformed environment", "", "{not json", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadKeyring(tt.file, tt.env)
			if (err == nil) != tt.ok {
				t.Errorf("loadKeyring(%q, env) = %v, want ok %v", tt.file, err, tt.ok)
			}
		})
	}
}
