package sdkcheck_test

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/service/servicetest/hellopb"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/coretest"
)

// TestTwoTenants runs hello in two tenants, answering with different
// texts. A registration in tenant B that points at tenant A's instance
// must route nothing there: tenant A's instance counts no call while B
// calls through it. Then each tenant's calls reach its own hello, named
// by the micro-service header or by the package.
func TestTwoTenants(t *testing.T) {
	e := newEnv(t)
	victim := e.run(t, tenantA, "hello", "Hello from A")
	e.run(t, tenantB, "hello", "Hello from B")
	alice, bob := e.account(t, tenantA, "alice"), e.account(t, tenantB, "bob")

	forge := func(name, id string) {
		t.Helper()
		svc := &registryv1.Service{Name: name, Nodes: []*registryv1.Node{{Id: id, Address: victim.addr}}}
		if _, err := registryv1.NewRegistryServiceClient(e.proxy).Register(bob.ctx, &registryv1.RegisterRequest{Service: svc}); err != nil {
			t.Fatalf("Register(%s at tenant A's address) as bob = %v", name, err)
		}
		e.waitListed(t, tenantB, name, func(n *registryv1.Node) bool { return n.GetId() == id })
	}
	forge("stolen", "forged-1")
	forge("hello", "forged-2")

	t.Run("forged registrations reach nothing", func(t *testing.T) {
		for range 4 {
			_, err := e.hello().Call(bob.to("stolen"), &hellopb.CallRequest{Name: "Bob"})
			if status.Code(err) != codes.Unavailable {
				t.Errorf("Call(stolen) as bob = %v, want Unavailable", err)
			}
		}
		answered := 0
		for range 8 { // round-robin over B's own node and the forged one
			resp, err := e.hello().Call(bob.to("hello"), &hellopb.CallRequest{Name: "Bob"})
			switch {
			case err == nil && resp.GetMessage() == "Hello from B Bob":
				answered++
			case status.Code(err) != codes.Unavailable:
				t.Errorf("Call(hello) as bob = %v, %v, want B's answer or Unavailable", resp, err)
			}
		}
		if answered == 0 || answered == 8 {
			t.Errorf("B's own node answered %d of 8 calls, want some: round-robin includes the forged node", answered)
		}
		if got := victim.greeter.Calls(); got != 0 {
			t.Fatalf("tenant A's hello counted %d calls from tenant B's registrations, want 0", got)
		}
	})
	t.Run("each tenant reaches its own", func(t *testing.T) {
		unforge(t, e, bob, "hello", &registryv1.Node{Id: "forged-2", Address: victim.addr})
		before := victim.greeter.Calls()
		tests := []struct {
			name   string
			u      user
			header bool
			want   string
		}{
			{"A by header", alice, true, "Hello from A Ann"},
			{"A by package", alice, false, "Hello from A Ann"},
			{"B by header", bob, true, "Hello from B Ann"},
			{"B by package", bob, false, "Hello from B Ann"},
		}
		for _, tt := range tests {
			ctx := tt.u.ctx
			if tt.header {
				ctx = tt.u.to("hello")
			}
			resp, err := e.hello().Call(ctx, &hellopb.CallRequest{Name: "Ann"})
			if err != nil || resp.GetMessage() != tt.want {
				t.Errorf("%s: Call(Ann) = %v, %v, want %q", tt.name, resp, err, tt.want)
			}
		}
		if got := victim.greeter.Calls() - before; got != 2 {
			t.Errorf("tenant A's hello counted %d calls, want alice's 2", got)
		}
	})
}

// unforge takes bob's forged node off the registry and waits until
// neither the registry nor the proxy's routing knows it.
func unforge(t *testing.T, e *env, bob user, name string, node *registryv1.Node) {
	t.Helper()
	id := node.GetId()
	svc := &registryv1.Service{Name: name, Nodes: []*registryv1.Node{node}}
	if _, err := registryv1.NewRegistryServiceClient(e.proxy).Deregister(bob.ctx, &registryv1.DeregisterRequest{Service: svc}); err != nil {
		t.Fatalf("Deregister(%s) as bob = %v", id, err)
	}
	coretest.Eventually(t, "forged node gone", func() error {
		nodes, err := e.nodes(t.Context(), tenantB, name)
		if err == nil && slices.ContainsFunc(nodes, func(n *registryv1.Node) bool { return n.GetId() == id }) {
			err = fmt.Errorf("still listed: %v", nodes)
		}
		return err
	})
	// The proxy learns of it from its watch, a moment later: until then
	// one call in two would still pick the forged node.
	coretest.Eventually(t, "proxy routes past the forged node", func() error {
		for range 2 {
			if _, err := e.hello().Call(bob.to(name), &hellopb.CallRequest{Name: "Bob"}); err != nil {
				return err
			}
		}
		return nil
	})
}
