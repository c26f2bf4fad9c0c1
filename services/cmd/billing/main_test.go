package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/coretest"
)

// TestServes runs the command with the local provider in front of a real
// store, as a deployment does, and checks that it answers health checks.
func TestServes(t *testing.T) {
	p := coretest.New(t, platform.Store)
	p.ServeStore(t)
	args := append(corekittest.CertFlags(t, p.CA, platform.Billing),
		"--store-address", p.Addr(platform.Store), "--public-url", "https://m3o.example.com")
	running := corekittest.Start(t, newApp(), args...)
	conn := p.Dial(t, running.Address, "micro", "router", coretest.Core(platform.Billing))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("health Check() = %v, want SERVING", err)
	}
}

// TestBadConfiguration checks that a mistake in the billing flags stops the
// command at once with a configuration error.
func TestBadConfiguration(t *testing.T) {
	certs := corekittest.CertFlags(t, mtlstest.NewCA(t), platform.Billing)
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"unknown provider", nil, []string{"--provider", "paypal", "--public-url", "https://m3o.example.com"}},
		{"no public url", nil, nil},
		{"stripe without secrets", nil, []string{"--provider", "stripe", "--stripe-price", "price_1", "--public-url", "https://m3o.example.com"}},
		{"stripe without price", map[string]string{stripeKeyEnv: "sk_test_1", stripeSecretEnv: "whsec_1"}, []string{"--provider", "stripe", "--public-url", "https://m3o.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			err := corekittest.Fails(t, newApp(), append(certs, tt.args...)...)
			if !errors.Is(err, corekit.ErrConfig) {
				t.Errorf("billing %v = %v, want a configuration error", tt.args, err)
			}
		})
	}
}
