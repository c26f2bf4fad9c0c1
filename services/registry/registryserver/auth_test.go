package registryserver_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/token"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/registry/memory"
	"m3o.dev/services/registry/registryserver"
)

// TestServeTokensFromAuth runs the registry process with --auth-address,
// started before auth as in production, and checks that a token auth
// issues is accepted once auth is up while one signed by any other key is
// not.
func TestServeTokensFromAuth(t *testing.T) {
	p := coretest.New(t, platform.Registry, platform.Store, platform.Auth)
	backend := memory.New(memory.Options{})
	t.Cleanup(func() { backend.Close() })
	p.Run(t, platform.Registry, func(ctx context.Context, proc *corekit.Process) error {
		return registryserver.Run(ctx, registryserver.Config{Backend: backend}, proc)
	})
	p.ServeStore(t)
	p.ServeAuth(t)

	_, tok := p.Account(t, "tenant-a", "alice")
	client := registryv1.NewRegistryServiceClient(p.Dial(t, p.Addr(platform.Registry), "micro", "proxy", serverID))
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

// TestCoreServicesListThemselves checks that each core service the
// registry knows the address of lists itself in the micro domain, as
// `micro services` shows it.
func TestCoreServicesListThemselves(t *testing.T) {
	p := coretest.New(t, platform.Registry, platform.Store)
	backend := memory.New(memory.Options{})
	t.Cleanup(func() { backend.Close() })
	p.Run(t, platform.Registry, func(ctx context.Context, proc *corekit.Process) error {
		return registryserver.Run(ctx, registryserver.Config{Backend: backend}, proc)
	})
	p.ServeStore(t)
	client := registryv1.NewRegistryServiceClient(p.Dial(t, p.Addr(platform.Registry), "micro", "config", serverID))
	coretest.Eventually(t, "the core services listed", func() error {
		resp, err := client.ListServices(t.Context(), &registryv1.ListServicesRequest{})
		if got := names(resp.GetServices()); err != nil || !slices.Equal(got, []string{"registry", "store"}) {
			return fmt.Errorf("ListServices() = %v, %v, want [registry store]", got, err)
		}
		return nil
	})
	resp, err := client.GetService(t.Context(), &registryv1.GetServiceRequest{Name: "store"})
	if err != nil || len(resp.GetServices()) != 1 || resp.GetServices()[0].GetNodes()[0].GetAddress() != p.Addr(platform.Store) {
		t.Fatalf("GetService(store) = %v, %v, want one node at %s", resp, err, p.Addr(platform.Store))
	}
	if eps := resp.GetServices()[0].GetEndpoints(); !hasEndpoint(eps, "StoreService.Read") {
		t.Errorf("store endpoints = %v, want StoreService.Read among them", eps)
	}
}

func hasEndpoint(eps []*registryv1.Endpoint, name string) bool {
	for _, e := range eps {
		if e.GetName() == name {
			return true
		}
	}
	return false
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
