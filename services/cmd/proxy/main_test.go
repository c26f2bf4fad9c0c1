package main

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/coretest"
)

// routerFlags writes the router certificate and returns its flags.
func routerFlags(t *testing.T, ca *mtls.CA) []string {
	f := corekittest.CertFlags(t, ca, "router")
	return []string{"--router-cert-file", f[3], "--router-key-file", f[5]}
}

// TestRun runs the proxy binary's command in front of a store and auth and
// checks its public port answers over TLS, as the CLI reaches it.
func TestRun(t *testing.T) {
	p := coretest.New(t, platform.Store, platform.Auth)
	p.ServeStore(t)
	p.ServeAuth(t)
	args := append(corekittest.CertFlags(t, p.CA, "proxy"), routerFlags(t, p.CA)...)
	args = append(args, "--http-address", "127.0.0.1:0",
		"--store-address", p.Addr(platform.Store), "--auth-address", p.Addr(platform.Auth))
	proxy := corekittest.Start(t, newApp(), args...)

	creds := credentials.NewTLS(mtls.ClientRootsConfig(p.CA.Pool(), ""))
	conn, err := grpc.NewClient(proxy.Address, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("health Check() through the public port = %v, want SERVING", err)
	}
}

// TestRunRefusesSwappedCertificates checks that the proxy does not start
// with its two certificates the wrong way round.
func TestRunRefusesSwappedCertificates(t *testing.T) {
	ca := mtlstest.NewCA(t)
	self, router := corekittest.CertFlags(t, ca, "proxy"), routerFlags(t, ca)
	swapped := []string{"--ca-file", self[1], "--cert-file", router[1], "--key-file", router[3],
		"--router-cert-file", self[3], "--router-key-file", self[5], "--http-address", "127.0.0.1:0"}
	if err := corekittest.Fails(t, newApp(), swapped...); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("proxy with swapped certificates = %v, want a refusal", err)
	}
}

// TestStreamCapByDefault checks the cap on streams one caller holds open
// through the proxy: 32 unless --max-streams or MICRO_PROXY_MAX_STREAMS
// says otherwise.
func TestStreamCapByDefault(t *testing.T) {
	for _, f := range newApp().Flags {
		flag, ok := f.(*cli.IntFlag)
		if !ok || flag.Name != "max-streams" {
			continue
		}
		if flag.Value != 32 || !slices.Contains(flag.EnvVars, "MICRO_PROXY_MAX_STREAMS") {
			t.Errorf("--max-streams defaults to %d from %v, want 32 and MICRO_PROXY_MAX_STREAMS", flag.Value, flag.EnvVars)
		}
		return
	}
	t.Error("the proxy has no --max-streams flag")
}
