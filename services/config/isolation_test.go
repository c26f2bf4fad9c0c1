package config_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	configv1 "m3o.dev/proto/m3o/config/v1"
	"m3o.dev/services/internal/statustest"
)

// rpcs calls every RPC of the service in namespace ns, as u.
var rpcs = []struct {
	name string
	call func(ctx context.Context, c configv1.ConfigServiceClient, ns string) error
}{
	{"Get", func(ctx context.Context, c configv1.ConfigServiceClient, ns string) error {
		_, err := c.Get(ctx, &configv1.GetRequest{Namespace: ns, Path: "db"})
		return err
	}},
	{"Get secret", func(ctx context.Context, c configv1.ConfigServiceClient, ns string) error {
		_, err := c.Get(ctx, &configv1.GetRequest{Namespace: ns, Path: "db", Secret: true})
		return err
	}},
	{"Get whole", func(ctx context.Context, c configv1.ConfigServiceClient, ns string) error {
		_, err := c.Get(ctx, &configv1.GetRequest{Namespace: ns})
		return err
	}},
	{"Set", func(ctx context.Context, c configv1.ConfigServiceClient, ns string) error {
		_, err := c.Set(ctx, &configv1.SetRequest{Namespace: ns, Path: "db.host", Value: `"evil"`})
		return err
	}},
	{"Delete", func(ctx context.Context, c configv1.ConfigServiceClient, ns string) error {
		_, err := c.Delete(ctx, &configv1.DeleteRequest{Namespace: ns, Path: "db"})
		return err
	}},
	{"History", func(ctx context.Context, c configv1.ConfigServiceClient, ns string) error {
		_, err := c.History(ctx, &configv1.HistoryRequest{Namespace: ns})
		return err
	}},
	{"Rollback", func(ctx context.Context, c configv1.ConfigServiceClient, ns string) error {
		_, err := c.Rollback(ctx, &configv1.RollbackRequest{Namespace: ns, Version: 1})
		return err
	}},
	{"Watch", func(ctx context.Context, c configv1.ConfigServiceClient, ns string) error {
		stream, err := c.Watch(ctx, &configv1.WatchRequest{Namespace: ns, Path: "db"})
		if err != nil {
			return err
		}
		_, err = stream.Recv()
		return err
	}},
}

// TestIsolation calls every RPC on tenant B's namespace as everyone who is
// not allowed to, and checks that each is refused and B's document is as it
// was.
func TestIsolation(t *testing.T) {
	e := newEnv(t, newRing(t))
	b := e.account(t, "tenant-b", "bob", "admin")
	mustSet(t, b, "db.host", `"b-host"`)
	mustSetSecret(t, b, "db.password", `"`+plaintext+`"`)
	before := mustGet(t, b, "")

	callers := []struct {
		name string
		u    user
		code codes.Code
	}{
		{"tenant A developer", e.account(t, "tenant-a", "alice", "developer"), codes.PermissionDenied},
		{"tenant A admin", e.account(t, "tenant-a", "root", "admin"), codes.PermissionDenied},
		{"micro developer", e.account(t, "micro", "dev", "developer"), codes.PermissionDenied},
		{"core service by mTLS", e.core(t, "runtime"), codes.PermissionDenied},
		{"tenant service with its token", e.workload(t, "tenant-a", "web"), codes.PermissionDenied},
		{"tenant service by mTLS alone", user{ctx: t.Context(), client: e.config(t, e.addr, "tenant-a", "web")}, codes.Unauthenticated},
		{"proxy without a token", user{ctx: t.Context(), client: e.config(t, e.addr, "micro", "proxy")}, codes.Unauthenticated},
	}
	for _, c := range callers {
		for _, rpc := range rpcs {
			t.Run(c.name+"/"+rpc.name, func(t *testing.T) {
				err := rpc.call(c.u.ctx, c.u.client, "tenant-b")
				statustest.WantCode(t, rpc.name+"(tenant-b)", err, c.code)
			})
		}
	}
	if after := mustGet(t, b, ""); after != before {
		t.Errorf("tenant-b's document = %s after the attempts, want %s", after, before)
	}
	// The same calls without naming a namespace land in the caller's own.
	a := callers[0].u
	if _, err := a.client.Get(a.ctx, &configv1.GetRequest{Path: "db"}); status.Code(err) != codes.NotFound {
		t.Errorf("Get(db) as tenant A = %v, want NotFound in its own empty namespace", err)
	}
}

// TestAdminNamesNamespace checks that an admin of micro may act on another
// namespace by naming it, and only then.
func TestAdminNamesNamespace(t *testing.T) {
	e := newEnv(t, newRing(t))
	b := e.account(t, "tenant-b", "bob")
	for _, rpc := range rpcs {
		if rpc.name == "Watch" {
			continue // a watch that is allowed does not end
		}
		t.Run(rpc.name, func(t *testing.T) {
			err := rpc.call(e.admin.ctx, e.admin.client, "tenant-b")
			if code := status.Code(err); code == codes.PermissionDenied || code == codes.Unauthenticated {
				t.Errorf("%s(tenant-b) as admin = %v, want it allowed", rpc.name, err)
			}
		})
	}
	// Delete removed the admin's Set, and Rollback(1) brought it back.
	if got := mustGet(t, b, "db"); got != `{"host":"evil"}` {
		t.Errorf("tenant-b's db after the admin's Set = %s, want the admin's change", got)
	}
	_, err := e.admin.client.Get(e.admin.ctx, &configv1.GetRequest{Namespace: "Not_A_Namespace"})
	wantField(t, "Get(bad namespace) as admin", err, "namespace")
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, newRing(t))
	anon := e.config(t, e.addr, "micro", "proxy")
	bad := user{ctx: identity.WithBearer(t.Context(), "not-a-token"), client: anon}
	_, err := bad.client.Get(bad.ctx, &configv1.GetRequest{})
	statustest.WantCode(t, "Get() with a forged token", err, codes.Unauthenticated)
}
