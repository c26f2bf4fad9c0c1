package auth_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/statustest"
)

// TestNamespacesList lists the namespaces page by page, as an admin of
// micro and as the runtime by its mTLS identity; tenants, their admins
// included, and anonymous callers are refused.
func TestNamespacesList(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	create(t, c, admin, "calm-heron", "dev", "dev-secret", "developer")
	owner := login(t, c, "brave-otter", "owner", "owner-secret")
	list := authv1.NewNamespacesServiceClient(e.conn(t, "micro", "proxy"))
	byRuntime := authv1.NewNamespacesServiceClient(e.conn(t, "micro", "runtime"))

	for who, call := range map[string]func() []string{
		"admin of micro": func() []string { return listAll(t, list, admin.ctx) },
		"the runtime":    func() []string { return listAll(t, byRuntime, t.Context()) },
	} {
		if got := call(); !slices.Equal(got, []string{"brave-otter", "calm-heron", "micro"}) {
			t.Errorf("List() as %s = %v, want brave-otter, calm-heron and micro", who, got)
		}
	}
	_, err := list.List(owner.ctx, &authv1.NamespacesServiceListRequest{})
	statustest.WantCode(t, "List() as a tenant admin", err, codes.PermissionDenied)
	_, err = list.List(t.Context(), &authv1.NamespacesServiceListRequest{})
	statustest.WantCode(t, "List() anonymously", err, codes.Unauthenticated)
	_, err = list.List(admin.ctx, &authv1.NamespacesServiceListRequest{PageSize: 1001})
	statustest.WantCode(t, "List(page_size 1001)", err, codes.InvalidArgument)
	_, err = list.List(admin.ctx, &authv1.NamespacesServiceListRequest{PageToken: "forged"})
	statustest.WantCode(t, "List(forged token)", err, codes.InvalidArgument)
}

// TestNamespacesGet reads one namespace, as an admin of micro and as the
// runtime; a namespace no account created is NotFound, and tenants are
// refused.
func TestNamespacesGet(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	owner := login(t, c, "brave-otter", "owner", "owner-secret")
	get := authv1.NewNamespacesServiceClient(e.conn(t, "micro", "proxy"))
	byRuntime := authv1.NewNamespacesServiceClient(e.conn(t, "micro", "runtime"))

	for who, caller := range map[string]struct {
		c   authv1.NamespacesServiceClient
		ctx context.Context
	}{"admin of micro": {get, admin.ctx}, "the runtime": {byRuntime, t.Context()}} {
		resp, err := caller.c.Get(caller.ctx, &authv1.NamespacesServiceGetRequest{Name: "brave-otter"})
		if err != nil {
			t.Fatalf("Get(brave-otter) as %s = %v", who, err)
		}
		if ns := resp.GetNamespace(); ns.GetName() != "brave-otter" || ns.GetCreated() == nil {
			t.Errorf("Get(brave-otter) as %s = %v, want brave-otter with its creation time", who, ns)
		}
	}
	_, err := get.Get(admin.ctx, &authv1.NamespacesServiceGetRequest{Name: "no-such-space"})
	statustest.Want(t, "Get(no-such-space)", err, codes.NotFound, `namespace "no-such-space" does not exist`)
	_, err = get.Get(admin.ctx, &authv1.NamespacesServiceGetRequest{Name: "Bad Name"})
	statustest.WantCode(t, "Get(Bad Name)", err, codes.InvalidArgument)
	_, err = get.Get(admin.ctx, &authv1.NamespacesServiceGetRequest{})
	statustest.WantCode(t, "Get() without a name", err, codes.InvalidArgument)
	_, err = get.Get(owner.ctx, &authv1.NamespacesServiceGetRequest{Name: "brave-otter"})
	statustest.WantCode(t, "Get() as a tenant admin", err, codes.PermissionDenied)
	_, err = get.Get(t.Context(), &authv1.NamespacesServiceGetRequest{Name: "brave-otter"})
	statustest.WantCode(t, "Get() anonymously", err, codes.Unauthenticated)
}

// listAll pages through the namespaces one at a time.
func listAll(t *testing.T, c authv1.NamespacesServiceClient, ctx context.Context) []string {
	t.Helper()
	var names []string
	req := &authv1.NamespacesServiceListRequest{PageSize: 1}
	for {
		resp, err := c.List(ctx, req)
		if err != nil {
			t.Fatalf("List() = %v", err)
		}
		for _, ns := range resp.GetNamespaces() {
			if ns.GetCreated() == nil {
				t.Errorf("namespace %s has no creation time", ns.GetName())
			}
			names = append(names, ns.GetName())
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return names
		}
	}
}
