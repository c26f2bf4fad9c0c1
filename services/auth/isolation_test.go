package auth_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/statustest"
)

// rpc is one call of the matrix, made in ctx.
type rpc struct {
	name string
	call func(ctx context.Context) error
}

// tenantRPCs are every AccountsService and RulesService call, plus account
// revocation, aimed at namespace ns and its account id.
func tenantRPCs(c clients, ns, id, token string) []rpc {
	r := newRule("intruder", "*", svcRes("*", "*"), grant, 100)
	r.Namespace = ns
	return []rpc{
		{"Accounts.Create", func(ctx context.Context) error {
			_, err := c.accounts.Create(ctx, &authv1.CreateRequest{Namespace: ns, Name: "intruder", Secret: "intruder-secret"})
			return err
		}},
		{"Accounts.Get", func(ctx context.Context) error {
			_, err := c.accounts.Get(ctx, &authv1.GetRequest{Namespace: ns, Id: id})
			return err
		}},
		{"Accounts.List", func(ctx context.Context) error {
			_, err := c.accounts.List(ctx, &authv1.ListRequest{Namespace: ns})
			return err
		}},
		{"Accounts.Delete", func(ctx context.Context) error {
			_, err := c.accounts.Delete(ctx, &authv1.DeleteRequest{Namespace: ns, Id: id})
			return err
		}},
		{"Accounts.Disable", func(ctx context.Context) error {
			_, err := c.accounts.Disable(ctx, &authv1.DisableRequest{Namespace: ns, Id: id})
			return err
		}},
		{"Accounts.ChangeSecret", func(ctx context.Context) error {
			_, err := c.accounts.ChangeSecret(ctx, &authv1.ChangeSecretRequest{Namespace: ns, Id: id, NewSecret: "taken-over"})
			return err
		}},
		{"Rules.Create", func(ctx context.Context) error {
			_, err := c.rules.Create(ctx, &authv1.RulesServiceCreateRequest{Rule: r})
			return err
		}},
		{"Rules.Delete", func(ctx context.Context) error {
			_, err := c.rules.Delete(ctx, &authv1.RulesServiceDeleteRequest{Namespace: ns, Id: "namespace-accounts"})
			return err
		}},
		{"Rules.List", func(ctx context.Context) error {
			_, err := c.rules.List(ctx, &authv1.RulesServiceListRequest{Namespace: ns})
			return err
		}},
		{"Rules.Explain", func(ctx context.Context) error {
			_, err := c.rules.Explain(ctx, &authv1.ExplainRequest{Namespace: ns, Account: id, Resource: svcRes("*", "*")})
			return err
		}},
		{"Auth.Revoke", func(ctx context.Context) error {
			_, err := c.auth.Revoke(ctx, &authv1.RevokeRequest{Namespace: ns, AccountId: id})
			return err
		}},
		{"Auth.Inspect", func(ctx context.Context) error {
			_, err := c.auth.Inspect(ctx, &authv1.InspectRequest{Token: token})
			return err
		}},
	}
}

// snapshot is what a namespace holds, read by an admin of micro.
type snapshot struct {
	Accounts *authv1.ListResponse
	Rules    *authv1.RulesServiceListResponse
}

func snap(t *testing.T, c clients, admin user, ns string) snapshot {
	t.Helper()
	accts, err := c.accounts.List(admin.ctx, &authv1.ListRequest{Namespace: ns})
	if err != nil {
		t.Fatalf("List(accounts of %s) = %v", ns, err)
	}
	rs, err := c.rules.List(admin.ctx, &authv1.RulesServiceListRequest{Namespace: ns})
	if err != nil {
		t.Fatalf("List(rules of %s) = %v", ns, err)
	}
	return snapshot{Accounts: accts, Rules: rs}
}

// cmpSnap returns the differences between two snapshots.
func cmpSnap(before, after snapshot) string {
	return cmp.Diff(before, after, protocmp.Transform())
}

// TestIsolation runs every tenant RPC from tenant A, as its admin and as a
// developer, against tenant B: each is PermissionDenied and B is unchanged.
func TestIsolation(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner-a", "owner-a-secret", "admin")
	create(t, c, admin, "brave-otter", "dev-a", "dev-a-secret", "developer")
	create(t, c, admin, "calm-lake", "owner-b", "owner-b-secret", "admin")
	ownerA := login(t, c, "brave-otter", "owner-a", "owner-a-secret")
	devA := login(t, c, "brave-otter", "dev-a", "dev-a-secret")
	ownerB := login(t, c, "calm-lake", "owner-b", "owner-b-secret")

	before := snap(t, c, admin, "calm-lake")
	for _, who := range []struct {
		name string
		user user
	}{{"tenant admin", ownerA}, {"tenant developer", devA}} {
		for _, r := range tenantRPCs(c, "calm-lake", ownerB.account.GetId(), ownerB.token.GetAccessToken()) {
			t.Run(who.name+"/"+r.name, func(t *testing.T) {
				statustest.WantCode(t, r.name+" on another namespace", r.call(who.user.ctx), codes.PermissionDenied)
			})
		}
	}
	if diff := cmpSnap(before, snap(t, c, admin, "calm-lake")); diff != "" {
		t.Errorf("namespace calm-lake changed under the calls (-before +after):\n%s", diff)
	}
	if _, err := c.accounts.Get(ownerB.ctx, &authv1.GetRequest{Id: ownerB.account.GetId()}); err != nil {
		t.Errorf("Get(self) as owner-b after the calls = %v, want its token still valid", err)
	}
	login(t, c, "calm-lake", "owner-b", "owner-b-secret")

	// B's account id named without a namespace means A's own namespace,
	// where it does not exist.
	_, err := c.accounts.Get(ownerA.ctx, &authv1.GetRequest{Id: ownerB.account.GetId()})
	statustest.WantCode(t, "Get(B's id in A's namespace)", err, codes.NotFound)
}

// TestManagement checks who may manage accounts within a namespace: its
// admins, not its developers; only admins grant the admin role; only
// admins of micro create namespaces; the runtime manages service accounts.
func TestManagement(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	runtime := e.dial(t, "micro", "runtime")
	config := e.dial(t, "micro", "config")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	dev := create(t, c, admin, "brave-otter", "dev", "dev-secret-1", "developer")
	owner := login(t, c, "brave-otter", "owner", "owner-secret")
	devU := login(t, c, "brave-otter", "dev", "dev-secret-1")
	core := context.Background()

	tests := []struct {
		name string
		c    clients
		ctx  context.Context
		req  *authv1.CreateRequest
		want codes.Code
	}{
		{"tenant admin creates a developer", c, owner.ctx, &authv1.CreateRequest{Name: "dev2", Secret: "dev2-secret", Roles: []string{"developer"}}, codes.OK},
		{"tenant admin creates an admin", c, owner.ctx, &authv1.CreateRequest{Name: "owner2", Secret: "owner2-secret", Roles: []string{"admin"}}, codes.OK},
		{"developer creates an account", c, devU.ctx, &authv1.CreateRequest{Name: "dev3", Secret: "dev3-secret"}, codes.PermissionDenied},
		{"developer creates an admin", c, devU.ctx, &authv1.CreateRequest{Name: "dev4", Secret: "dev4-secret", Roles: []string{"admin"}}, codes.PermissionDenied},
		{"tenant admin creates a namespace", c, owner.ctx, &authv1.CreateRequest{Namespace: "new-space", Name: "x", Secret: "x-secret-1"}, codes.PermissionDenied},
		{"runtime creates a service account", runtime, core, &authv1.CreateRequest{Namespace: "brave-otter", Name: "hello", Secret: "hello-secret", Type: authv1.AccountType_ACCOUNT_TYPE_SERVICE, Roles: []string{"service"}}, codes.OK},
		{"runtime grants admin", runtime, core, &authv1.CreateRequest{Namespace: "brave-otter", Name: "evil", Secret: "evil-secret", Roles: []string{"admin"}}, codes.PermissionDenied},
		{"runtime grants developer", runtime, core, &authv1.CreateRequest{Namespace: "brave-otter", Name: "dev5", Secret: "dev5-secret", Type: authv1.AccountType_ACCOUNT_TYPE_SERVICE, Roles: []string{"developer"}}, codes.PermissionDenied},
		{"runtime creates a user account", runtime, core, &authv1.CreateRequest{Namespace: "brave-otter", Name: "person", Secret: "person-secret"}, codes.PermissionDenied},
		{"runtime creates a service account in micro", runtime, core, &authv1.CreateRequest{Namespace: "micro", Name: "hello", Secret: "hello-secret", Type: authv1.AccountType_ACCOUNT_TYPE_SERVICE, Roles: []string{"service"}}, codes.PermissionDenied},
		{"runtime creates a namespace", runtime, core, &authv1.CreateRequest{Namespace: "new-space", Name: "hello", Secret: "hello-secret"}, codes.PermissionDenied},
		{"other core service creates an account", config, core, &authv1.CreateRequest{Namespace: "brave-otter", Name: "cfg", Secret: "cfg-secret"}, codes.PermissionDenied},
		{"anonymous creates an account", c, core, &authv1.CreateRequest{Namespace: "brave-otter", Name: "anon", Secret: "anon-secret"}, codes.Unauthenticated},
		{"taken name", c, owner.ctx, &authv1.CreateRequest{Name: "dev", Secret: "dev-secret-2"}, codes.AlreadyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.accounts.Create(tt.ctx, tt.req)
			statustest.WantCode(t, "Create()", err, tt.want)
		})
	}

	_, err := c.accounts.Disable(devU.ctx, &authv1.DisableRequest{Id: "owner"})
	statustest.WantCode(t, "Disable(owner) as developer", err, codes.PermissionDenied)
	_, err = c.accounts.Delete(owner.ctx, &authv1.DeleteRequest{Id: "owner"})
	statustest.WantCode(t, "Delete(self)", err, codes.FailedPrecondition)
	_, err = c.accounts.List(devU.ctx, &authv1.ListRequest{})
	statustest.WantCode(t, "List() as developer", err, codes.PermissionDenied)
	if got, err := c.accounts.Get(devU.ctx, &authv1.GetRequest{Id: dev.GetId()}); err != nil || got.GetAccount().GetName() != "dev" {
		t.Errorf("Get(self) as developer = %v, %v, want its account", got, err)
	}
	_, err = c.accounts.Get(devU.ctx, &authv1.GetRequest{Id: "owner"})
	statustest.WantCode(t, "Get(other) as developer", err, codes.PermissionDenied)
}

// TestRuntimeManagesServiceAccountsOnly checks what the runtime may do to
// existing accounts: a tenant's service accounts, yes; a person's account
// or anything in micro, no.
func TestRuntimeManagesServiceAccountsOnly(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	runtime := e.dial(t, "micro", "runtime")
	admin := login(t, c, "", "admin", adminPassword)
	person := create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	micro := create(t, c, admin, "micro", "operator", "operator-secret")
	core := context.Background()
	newService := func(name string) *authv1.Account {
		resp, err := runtime.accounts.Create(core, &authv1.CreateRequest{Namespace: "brave-otter", Name: name, Secret: "service-secret",
			Type: authv1.AccountType_ACCOUNT_TYPE_SERVICE, Roles: []string{"service"}})
		if err != nil {
			t.Fatalf("runtime Create(service %s) = %v", name, err)
		}
		return resp.GetAccount()
	}
	tests := []struct {
		name   string
		ns, id string
		want   codes.Code
	}{
		{"service account", "brave-otter", newService("hello").GetId(), codes.OK},
		{"person", "brave-otter", person.GetId(), codes.PermissionDenied},
		{"account of micro", "micro", micro.GetId(), codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runtime.accounts.Get(core, &authv1.GetRequest{Namespace: tt.ns, Id: tt.id})
			statustest.WantCode(t, "Get()", err, tt.want)
			_, err = runtime.accounts.ChangeSecret(core, &authv1.ChangeSecretRequest{Namespace: tt.ns, Id: tt.id, NewSecret: "rotated-secret"})
			statustest.WantCode(t, "ChangeSecret()", err, tt.want)
			_, err = runtime.accounts.Disable(core, &authv1.DisableRequest{Namespace: tt.ns, Id: tt.id})
			statustest.WantCode(t, "Disable()", err, tt.want)
			_, err = runtime.accounts.Delete(core, &authv1.DeleteRequest{Namespace: tt.ns, Id: tt.id})
			statustest.WantCode(t, "Delete()", err, tt.want)
		})
	}
	_, err := runtime.accounts.List(core, &authv1.ListRequest{Namespace: "micro"})
	statustest.WantCode(t, "List(micro)", err, codes.PermissionDenied)
}
