package registryserver_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/token"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/registry/memory"
	"m3o.dev/services/registry/registryserver"
)

// TestServeTokensFromAuth runs the registry process with --auth-address,
// started before auth as in production, and checks that a token auth
// issues is accepted once auth is up while one signed by any other key is
// not.
func TestServeTokensFromAuth(t *testing.T) {
	ca := mtlstest.NewCA(t)
	storeAddr, authAddr, addr := coretest.FreeAddress(t), coretest.FreeAddress(t), coretest.FreeAddress(t)
	caFile, certFile, keyFile := coretest.Files(t, ca, "registry")
	cfg := registryserver.Config{
		Backend: registryserver.BackendMemory, Address: addr,
		CAFile: caFile, CertFile: certFile, KeyFile: keyFile, AuthAddress: authAddr,
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	backend := memory.New(memory.Options{})
	t.Cleanup(func() { backend.Close() })
	coretest.Go(t, "registry Serve", func(ctx context.Context) error {
		return registryserver.Serve(ctx, cfg, backend, slog.New(slog.DiscardHandler))
	})
	coretest.WaitServing(t, ca, addr, "registry")
	coretest.ServeStore(t, ca, storeAddr, authAddr)
	coretest.ServeAuth(t, ca, authAddr, storeAddr)

	_, tok := coretest.Account(t, ca, authAddr, "tenant-a", "alice")
	client := registryv1.NewRegistryServiceClient(coretest.Dial(t, ca, addr, "micro", "proxy", serverID))
	alice := identity.WithBearer(t.Context(), tok)
	coretest.Eventually(t, "Register(greeter) as alice", func() error {
		_, err := client.Register(alice, &registryv1.RegisterRequest{Service: service("greeter", "n1")})
		return err
	})
	resp, err := client.ListServices(alice, &registryv1.ListServicesRequest{})
	if got := names(resp.GetServices()); err != nil || !slices.Equal(got, []string{"greeter"}) {
		t.Errorf("ListServices() as alice = %v, %v, want [greeter]", got, err)
	}

	forged := identity.WithBearer(t.Context(), strangerToken(t))
	if _, err := client.ListServices(forged, &registryv1.ListServicesRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListServices() with a token auth never signed = %v, want Unauthenticated", err)
	}
}

// strangerToken is a well-formed token of tenant-a signed by a key auth
// never published.
func strangerToken(t *testing.T) string {
	t.Helper()
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey() = %v", err)
	}
	now := time.Now()
	raw, err := token.NewSigner(kid, priv).Sign(token.Claims{
		Subject: "acct-x", Namespace: "tenant-a", Type: "user", IssuedAt: now, ExpiresAt: now.Add(time.Hour), ID: token.NewID(),
	})
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	return raw
}
