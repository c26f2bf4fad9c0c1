package auth_test

import (
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/statustest"
)

func svcRes(name, endpoint string) *authv1.Resource {
	return &authv1.Resource{Type: "service", Name: name, Endpoint: endpoint}
}

func newRule(id, scope string, res *authv1.Resource, access authv1.Access, priority int32) *authv1.Rule {
	return &authv1.Rule{Id: id, Scope: scope, Resource: res, Access: access, Priority: priority}
}

const (
	grant = authv1.Access_ACCESS_GRANT
	deny  = authv1.Access_ACCESS_DENY
)

// TestExplain sets up a namespace with rules that exercise priority, ties,
// wildcards and scopes, tries to lock the admins of micro out, and checks
// every decision through RulesService.Explain.
func TestExplain(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	create(t, c, admin, "brave-otter", "dev", "dev-secret-1", "developer")
	create(t, c, admin, "brave-otter", "worker", "worker-secret", "service")
	create(t, c, admin, "micro", "ops", "ops-secret-1", "developer")
	owner := login(t, c, "brave-otter", "owner", "owner-secret")

	for _, r := range []*authv1.Rule{
		newRule("no-store-delete", "*", svcRes("m3o.store.v1.*", "Delete"), deny, 10),
		newRule("dev-store-delete", "developer", svcRes("m3o.store.v1.StoreService", "Delete"), grant, 20),
		newRule("tie-grant", "*", svcRes("hello", "Tie"), grant, 30),
		newRule("tie-deny", "developer", svcRes("hello", "Tie"), deny, 30),
		newRule("public-hello", "", svcRes("hello", "Public"), grant, 0),
		newRule("no-config", "*", svcRes("m3o.config.v1.ConfigService", "*"), deny, 5),
		newRule("worker-deny", "service", svcRes("*", "*"), deny, 35),
		newRule("worker-get", "service", svcRes("hello", "Get*Item"), grant, 40),
	} {
		if _, err := c.rules.Create(owner.ctx, &authv1.RulesServiceCreateRequest{Rule: r}); err != nil {
			t.Fatalf("Create(rule %s) = %v", r.GetId(), err)
		}
	}
	lockOut(t, c, admin)

	tests := []struct {
		name     string
		ns       string
		account  string
		resource *authv1.Resource
		want     authv1.Access
		wantRule string
	}{
		{"namespace default grants accounts", "brave-otter", "dev", svcRes("m3o.store.v1.StoreService", "Read"), grant, "namespace-accounts"},
		{"higher priority grant beats deny", "brave-otter", "dev", svcRes("m3o.store.v1.StoreService", "Delete"), grant, "dev-store-delete"},
		{"wildcard deny beats the default", "brave-otter", "owner", svcRes("m3o.store.v1.StoreService", "Delete"), deny, "no-store-delete"},
		{"deny wins a tie", "brave-otter", "dev", svcRes("hello", "Tie"), deny, "tie-deny"},
		{"grant stands without the tie", "brave-otter", "owner", svcRes("hello", "Tie"), grant, "tie-grant"},
		{"public scope reaches anonymous", "brave-otter", "", svcRes("hello", "Public"), grant, "public-hello"},
		{"anonymous is denied by default", "brave-otter", "", svcRes("hello", "Call"), deny, ""},
		{"built-in token is public", "brave-otter", "", svcRes("m3o.auth.v1.AuthService", "Token"), grant, "builtin-public-token"},
		{"built-in health is public", "brave-otter", "", svcRes("grpc.health.v1.Health", "Check"), grant, "builtin-public-health"},
		{"built-in sign-up is public", "brave-otter", "", svcRes("m3o.auth.v1.SignupService", "Verify"), grant, "builtin-public-signup"},
		{"built-in public keys", "micro", "", svcRes("m3o.auth.v1.AuthService", "PublicKeys"), grant, "builtin-public-keys"},
		{"endpoint wildcard denies a service", "brave-otter", "dev", svcRes("m3o.config.v1.ConfigService", "Get"), deny, "no-config"},
		{"role scope and endpoint glob", "brave-otter", "worker", svcRes("hello", "GetOneItem"), grant, "worker-get"},
		{"glob needs the whole name", "brave-otter", "worker", svcRes("hello", "GetItems"), deny, "worker-deny"},
		{"role deny outranks the default", "brave-otter", "worker", svcRes("m3o.store.v1.StoreService", "Read"), deny, "worker-deny"},
		{"micro admin survives a lock-out rule", "micro", "admin", svcRes("m3o.runtime.v1.RuntimeService", "Resize"), grant, rules.AdminRuleID},
		{"nothing grants anonymous callers in micro", "micro", "", svcRes("m3o.runtime.v1.RuntimeService", "Read"), deny, ""},
		{"a tenant admin is not a platform admin", "brave-otter", "owner", svcRes("m3o.runtime.v1.RuntimeService", "Resize"), grant, "namespace-accounts"},
		{"lock-out deny reaches other micro roles", "micro", "ops", svcRes("hello", "Call"), deny, "lockout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.rules.Explain(admin.ctx, &authv1.ExplainRequest{Namespace: tt.ns, Account: tt.account, Resource: tt.resource})
			if err != nil {
				t.Fatalf("Explain() = %v", err)
			}
			if resp.GetAccess() != tt.want || resp.GetRule().GetId() != tt.wantRule || resp.GetReason() == "" {
				t.Errorf("Explain(%s/%s, %v) = %v by %q (%q), want %v by %q",
					tt.ns, tt.account, tt.resource, resp.GetAccess(), resp.GetRule().GetId(), resp.GetReason(), tt.want, tt.wantRule)
			}
		})
	}
}

// lockOut tries every way to lock the admins of micro out; each must fail
// except the one rule that is allowed but must not work.
func lockOut(t *testing.T, c clients, admin user) {
	t.Helper()
	all := svcRes("*", "*")
	attempts := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"delete the admin rule", func() error {
			_, err := c.rules.Delete(admin.ctx, &authv1.RulesServiceDeleteRequest{Id: rules.AdminRuleID})
			return err
		}, codes.FailedPrecondition},
		{"delete a public rule", func() error {
			_, err := c.rules.Delete(admin.ctx, &authv1.RulesServiceDeleteRequest{Namespace: "brave-otter", Id: "builtin-public-token"})
			return err
		}, codes.FailedPrecondition},
		{"outrank the built-ins", func() error {
			_, err := c.rules.Create(admin.ctx, &authv1.RulesServiceCreateRequest{Rule: newRule("", "admin", all, deny, rules.BuiltinPriority)})
			return err
		}, codes.InvalidArgument},
		{"pose as a built-in", func() error {
			r := newRule("builtin-micro-admin", "admin", all, deny, 0)
			_, err := c.rules.Create(admin.ctx, &authv1.RulesServiceCreateRequest{Rule: r})
			return err
		}, codes.InvalidArgument},
		{"mark a rule built in", func() error {
			r := newRule("", "admin", all, deny, 0)
			r.Builtin = true
			_, err := c.rules.Create(admin.ctx, &authv1.RulesServiceCreateRequest{Rule: r})
			return err
		}, codes.InvalidArgument},
		{"deny admins at the highest priority", func() error {
			_, err := c.rules.Create(admin.ctx, &authv1.RulesServiceCreateRequest{Rule: newRule("lockout", "*", all, deny, rules.MaxPriority)})
			return err
		}, codes.OK},
	}
	for _, a := range attempts {
		statustest.WantCode(t, "lock-out attempt: "+a.name, a.call(), a.want)
	}
}

func TestListRules(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "dev", "dev-secret-1", "developer")
	dev := login(t, c, "brave-otter", "dev", "dev-secret-1")

	resp, err := c.rules.List(dev.ctx, &authv1.RulesServiceListRequest{})
	if err != nil {
		t.Fatalf("List() as a developer = %v", err)
	}
	got := map[string]bool{}
	for _, r := range resp.GetRules() {
		got[r.GetId()] = r.GetBuiltin()
	}
	if builtin, ok := got["namespace-accounts"]; !ok || builtin {
		t.Errorf("List() = %v, want the namespace's default rule, not built in", got)
	}
	if builtin, ok := got[rules.AdminRuleID]; !ok || !builtin {
		t.Errorf("List() = %v, want the built-in admin rule", got)
	}
	_, err = c.rules.Create(dev.ctx, &authv1.RulesServiceCreateRequest{Rule: newRule("", "*", svcRes("*", "*"), grant, 1)})
	statustest.WantCode(t, "Create(rule) as a developer", err, codes.PermissionDenied)
	_, err = c.rules.Delete(dev.ctx, &authv1.RulesServiceDeleteRequest{Id: "namespace-accounts"})
	statustest.WantCode(t, "Delete(rule) as a developer", err, codes.PermissionDenied)
	_, err = c.rules.Delete(admin.ctx, &authv1.RulesServiceDeleteRequest{Namespace: "brave-otter", Id: "missing"})
	statustest.WantCode(t, "Delete(missing rule)", err, codes.NotFound)
	_, err = c.rules.Create(admin.ctx, &authv1.RulesServiceCreateRequest{Rule: &authv1.Rule{Id: "namespace-accounts", Namespace: "brave-otter", Scope: "*", Resource: svcRes("*", "*"), Access: grant}})
	statustest.WantCode(t, "Create(rule with a taken id)", err, codes.AlreadyExists)
}

// TestRulesCache feeds pkg/rules.Cache from the real RulesService, as the
// proxy and the services do, over a core service's mTLS identity.
func TestRulesCache(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "dev", "dev-secret-1", "developer")

	cache := rules.NewCache(e.dial(t, "micro", "runtime").rules, slog.New(slog.DiscardHandler), 0)
	dev := rules.Caller{Namespace: "brave-otter", Roles: []string{"developer"}}
	read := rules.Resource{Type: "service", Name: "m3o.store.v1.StoreService", Endpoint: "Read"}
	d, err := cache.Decide(t.Context(), dev, "brave-otter", read)
	if err != nil || d.Access != rules.Grant {
		t.Fatalf("Decide() = %v, %v, want GRANT by the namespace default", d, err)
	}
	r := newRule("no-read", "*", svcRes("m3o.store.v1.StoreService", "Read"), deny, 10)
	r.Namespace = "brave-otter"
	if _, err := c.rules.Create(admin.ctx, &authv1.RulesServiceCreateRequest{Rule: r}); err != nil {
		t.Fatalf("Create(rule) = %v", err)
	}
	if err := cache.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh() = %v", err)
	}
	if d, _ := cache.Decide(t.Context(), dev, "brave-otter", read); d.Access != rules.Deny || d.Rule.ID != "no-read" {
		t.Errorf("Decide() after a new deny rule = %v, want DENY by no-read", d)
	}
}

// TestRulesListMarksBuiltins checks what a tenant's admin sees of the
// platform's built-in rules: each marked built-in, kept in namespace micro
// and described as the platform's, beside the tenant's own rules with the
// descriptions their creators gave.
func TestRulesListMarksBuiltins(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	owner := login(t, c, "brave-otter", "owner", "owner-secret")
	mine := newRule("no-delete", "*", svcRes("m3o.store.v1.StoreService", "Delete"), deny, 10)
	mine.Description = "Nobody deletes from the store."
	if _, err := c.rules.Create(owner.ctx, &authv1.RulesServiceCreateRequest{Rule: mine}); err != nil {
		t.Fatalf("Create(rule with a description) = %v", err)
	}
	resp, err := c.rules.List(owner.ctx, &authv1.RulesServiceListRequest{})
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	var builtins int
	for _, r := range resp.GetRules() {
		switch {
		case r.GetBuiltin():
			builtins++
			if r.GetNamespace() != "micro" || !strings.HasPrefix(r.GetDescription(), "Platform rule: ") {
				t.Errorf("built-in %s = namespace %q, %q; want micro's, described as the platform's", r.GetId(), r.GetNamespace(), r.GetDescription())
			}
		case r.GetId() == "no-delete" && r.GetDescription() != mine.Description:
			t.Errorf("rule no-delete description = %q, want %q", r.GetDescription(), mine.Description)
		}
	}
	if builtins != len(rules.Builtins()) {
		t.Errorf("List() holds %d built-ins, want %d", builtins, len(rules.Builtins()))
	}
	long := newRule("", "*", svcRes("hello", "*"), grant, 0)
	long.Description = strings.Repeat("x", 257)
	_, err = c.rules.Create(owner.ctx, &authv1.RulesServiceCreateRequest{Rule: long})
	statustest.WantCode(t, "Create(rule with a 257-character description)", err, codes.InvalidArgument)
}
