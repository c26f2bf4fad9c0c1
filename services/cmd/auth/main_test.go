package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/corekit/corekittest"
	"m3o.dev/services/internal/coretest"
)

// TestRun runs the auth binary's command over a real store, with the admin
// password from the environment, and logs the admin in.
func TestRun(t *testing.T) {
	p := coretest.New(t, platform.Store)
	p.ServeStore(t)
	t.Setenv("MICRO_ADMIN_PASSWORD", "admin-password-123")
	args := append(corekittest.CertFlags(t, p.CA, "auth"), "--data-dir", t.TempDir(), "--store-address", p.Addr(platform.Store))
	auth := corekittest.Start(t, newApp(), args...)

	conn := p.Dial(t, auth.Address, "micro", "proxy", coretest.Core("auth"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	resp, err := authv1.NewAuthServiceClient(conn).Token(ctx,
		&authv1.TokenRequest{Id: "admin", Secret: "admin-password-123"}, grpc.WaitForReady(true))
	if err != nil || resp.GetToken().GetAccessToken() == "" {
		t.Fatalf("Token(admin) = %v, want tokens", err)
	}
}

// TestEnvironmentConfigures checks that every flag also reads
// MICRO_AUTH_<FLAG>.
func TestEnvironmentConfigures(t *testing.T) {
	p := coretest.New(t, platform.Store)
	p.ServeStore(t)
	t.Setenv("MICRO_AUTH_STORE_ADDRESS", p.Addr(platform.Store))
	t.Setenv("MICRO_AUTH_DATA_DIR", t.TempDir())
	auth := corekittest.Start(t, newApp(), corekittest.CertFlags(t, p.CA, "auth")...)
	if auth.Address == "" {
		t.Fatal("auth configured from the environment reported no address")
	}
}
