package runtime_test

import (
	"context"
	"io"
	"maps"
	"testing"

	"google.golang.org/grpc/codes"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/statustest"
	"m3o.dev/services/runtime"
)

// helloFiles is a service's source for the tests that only store it.
var helloFiles = map[string]string{"go.mod": "module example.com/hello\n\ngo 1.26\n", "main.go": "package main\n\nfunc main() {}\n"}

// rpcs are every RuntimeService call, aimed at the service name in the
// namespace field ns.
func rpcs(c runtimev1.RuntimeServiceClient, ns, name, sourceID string, archive []byte) map[string]func(context.Context) error {
	svc := &runtimev1.Service{Name: name, Source: sourceID}
	return map[string]func(context.Context) error{
		"Create": func(ctx context.Context) error {
			_, err := c.Create(ctx, &runtimev1.CreateRequest{Namespace: ns, Service: svc})
			return err
		},
		"Read": func(ctx context.Context) error {
			_, err := c.Read(ctx, &runtimev1.ReadRequest{Namespace: ns, Name: name})
			return err
		},
		"ReadAll": func(ctx context.Context) error {
			_, err := c.Read(ctx, &runtimev1.ReadRequest{Namespace: ns})
			return err
		},
		"Update": func(ctx context.Context) error {
			_, err := c.Update(ctx, &runtimev1.UpdateRequest{Namespace: ns, Service: svc})
			return err
		},
		"Logs": func(ctx context.Context) error {
			stream, err := c.Logs(ctx, &runtimev1.LogsRequest{Namespace: ns, Name: name})
			if err != nil {
				return err
			}
			for {
				if _, err := stream.Recv(); err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
			}
		},
		"Upload": func(ctx context.Context) error {
			_, err := upload(ctx, c, ns, name, archive)
			return err
		},
		"Delete": func(ctx context.Context) error {
			_, err := c.Delete(ctx, &runtimev1.DeleteRequest{Namespace: ns, Name: name})
			return err
		},
	}
}

// TestIsolationMatrix calls every RPC naming another tenant's namespace,
// as a tenant and as a tenant's admin: all are refused. Naming no
// namespace, a tenant reaches only its own services: the victim's service
// of the same name is as absent as one that does not exist. An admin of
// micro may name any namespace.
func TestIsolationMatrix(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	victim := e.tenant(t, "victim-space", "victim", "admin", "developer")
	archive := packDir(t, helloFiles)
	src, err := upload(victim, c, "", "hello", archive)
	if err != nil {
		t.Fatalf("Upload as the victim = %v", err)
	}
	if _, err := c.Create(victim, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: src}}); err != nil {
		t.Fatalf("Create as the victim = %v", err)
	}
	callers := map[string]context.Context{
		"tenant":       e.tenant(t, "other-space", "dev", "developer"),
		"tenant admin": e.tenant(t, "other-space", "owner", "admin"),
	}
	for who, ctx := range callers {
		for rpc, call := range rpcs(c, "victim-space", "hello", src, archive) {
			t.Run(who+"/"+rpc+"/namespace field", func(t *testing.T) {
				statustest.WantCode(t, rpc, call(ctx), codes.PermissionDenied)
			})
		}
		for rpc, call := range rpcs(c, "", "hello", src, archive) {
			want := map[string]codes.Code{"Read": codes.NotFound, "Logs": codes.NotFound, "Delete": codes.NotFound,
				"Update": codes.NotFound, "ReadAll": codes.OK, "Upload": codes.OK, "Create": codes.InvalidArgument}[rpc]
			t.Run(who+"/"+rpc+"/own namespace", func(t *testing.T) {
				statustest.WantCode(t, rpc, call(ctx), want)
			})
		}
	}
	checkVictimUntouched(t, e, c, victim)
	checkAdminReaches(t, e, c)
}

// checkVictimUntouched checks that the victim's service is as it was.
func checkVictimUntouched(t *testing.T, e *env, c runtimev1.RuntimeServiceClient, victim context.Context) {
	t.Helper()
	resp, err := c.Read(victim, &runtimev1.ReadRequest{Name: "hello"})
	if err != nil || len(resp.GetServices()) != 1 || resp.GetServices()[0].GetGeneration() != 1 {
		t.Errorf("victim's Read(hello) = %v, %v, want its service at generation 1", resp, err)
	}
	if len(e.backend.deleted) != 0 {
		t.Errorf("the backend deleted %v, want nothing", e.backend.deleted)
	}
}

// checkAdminReaches checks that an admin of micro reaches the victim's
// service by naming its namespace, and that micro itself runs nothing.
func checkAdminReaches(t *testing.T, e *env, c runtimev1.RuntimeServiceClient) {
	t.Helper()
	resp, err := c.Read(e.admin, &runtimev1.ReadRequest{Namespace: "victim-space", Name: "hello"})
	if err != nil || resp.GetServices()[0].GetNamespace() != "victim-space" {
		t.Errorf("admin Read(victim-space/hello) = %v, %v, want the victim's service", resp, err)
	}
	_, err = c.Create(e.admin, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: "https://example.com/x/y"}})
	statustest.WantCode(t, "admin Create in micro", err, codes.InvalidArgument)
}

// adminRPCs are the admin-only calls, aimed at namespace ns.
func adminRPCs(c runtimev1.RuntimeServiceClient, ns string) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"Resize": func(ctx context.Context) error {
			_, err := c.Resize(ctx, &runtimev1.ResizeRequest{Namespace: ns, Name: "hello", Instances: 2})
			return err
		},
		"SetQuota": func(ctx context.Context) error {
			_, err := c.SetQuota(ctx, &runtimev1.SetQuotaRequest{Namespace: ns, Quota: &runtimev1.Quota{Services: 20}})
			return err
		},
		"GetQuota": func(ctx context.Context) error {
			_, err := c.GetQuota(ctx, &runtimev1.GetQuotaRequest{Namespace: ns})
			return err
		},
		"ListNamespaces": func(ctx context.Context) error {
			_, err := c.ListNamespaces(ctx, &runtimev1.ListNamespacesRequest{})
			return err
		},
	}
}

// TestAdminOnlyRPCs calls every admin RPC as each kind of caller: tenants,
// their admins included, are refused whichever namespace they name, and
// change nothing; an admin of micro gets through.
func TestAdminOnlyRPCs(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	owner := e.tenant(t, "some-space", "owner", "admin", "developer")
	src, err := upload(owner, c, "", "hello", packDir(t, helloFiles))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(owner, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: src}}); err != nil {
		t.Fatal(err)
	}
	callers := []struct {
		name string
		ctx  context.Context
		want codes.Code
	}{
		{"tenant developer", e.tenant(t, "some-space", "dev", "developer"), codes.PermissionDenied},
		{"tenant admin", owner, codes.PermissionDenied},
		{"other tenant's admin", e.tenant(t, "other-space", "owner", "admin"), codes.PermissionDenied},
		{"anonymous", context.Background(), codes.Unauthenticated},
	}
	quotas := e.backend.quotaSnapshot()
	for _, who := range callers {
		for _, ns := range []string{"some-space", "other-space", "micro", ""} {
			for rpc, call := range adminRPCs(c, ns) {
				t.Run(who.name+"/"+rpc+"/"+ns, func(t *testing.T) {
					statustest.WantCode(t, rpc, call(who.ctx), who.want)
				})
			}
		}
	}
	if got := len(e.backend.deployed[runtime.Ref{Namespace: "some-space", Name: "hello"}]); got != 1 || !maps.Equal(e.backend.quotaSnapshot(), quotas) {
		t.Errorf("after the refused calls: %d deployments, quotas %v; want 1 and %v", got, e.backend.quotaSnapshot(), quotas)
	}
	for rpc, call := range adminRPCs(c, "some-space") {
		t.Run("admin of micro/"+rpc, func(t *testing.T) {
			statustest.WantCode(t, rpc, call(e.admin), codes.OK)
		})
	}
}
