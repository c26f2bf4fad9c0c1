package rules_test

import (
	"strings"
	"testing"

	"m3o.dev/pkg/rules"
)

func svc(name, endpoint string) rules.Resource {
	return rules.Resource{Type: rules.TypeService, Name: name, Endpoint: endpoint}
}

func rule(id, scope string, res rules.Resource, access rules.Access, priority int32) rules.Rule {
	return rules.Rule{ID: id, Namespace: "brave-otter", Scope: scope, Resource: res, Access: access, Priority: priority}
}

func TestEvaluate(t *testing.T) {
	var (
		anon      = rules.Caller{}
		dev       = rules.Caller{Namespace: "brave-otter", Roles: []string{"developer"}}
		tenantAdm = rules.Caller{Namespace: "brave-otter", Roles: []string{"admin"}}
		stranger  = rules.Caller{Namespace: "calm-lake", Roles: []string{"developer"}}
		microAdm  = rules.Caller{Namespace: "micro", Roles: []string{"admin"}}
		microDev  = rules.Caller{Namespace: "micro", Roles: []string{"developer"}}
		all       = svc("*", "*")
		read      = svc("m3o.store.v1.StoreService", "Read")
	)
	tests := []struct {
		name     string
		rules    []rules.Rule
		caller   rules.Caller
		ns       string
		resource rules.Resource
		want     rules.Access
		wantRule string
	}{
		{"nothing matches denies", nil, dev, "brave-otter", read, rules.Deny, ""},
		{"scope star grants accounts", []rules.Rule{rule("r1", "*", all, rules.Grant, 0)}, dev, "brave-otter", read, rules.Grant, "r1"},
		{"scope star excludes anonymous", []rules.Rule{rule("r1", "*", all, rules.Grant, 0)}, anon, "brave-otter", read, rules.Deny, ""},
		{"scope star excludes other namespaces", []rules.Rule{rule("r1", "*", all, rules.Grant, 0)}, stranger, "brave-otter", read, rules.Deny, ""},
		{"rules of another namespace do not apply", []rules.Rule{rule("r1", "*", all, rules.Grant, 0)}, stranger, "calm-lake", read, rules.Deny, ""},
		{"public scope grants anonymous", []rules.Rule{rule("r1", "", svc("hello", "Call"), rules.Grant, 0)}, anon, "brave-otter", svc("hello", "Call"), rules.Grant, "r1"},
		{"role scope grants the role", []rules.Rule{rule("r1", "developer", all, rules.Grant, 0)}, dev, "brave-otter", read, rules.Grant, "r1"},
		{"role scope refuses other roles", []rules.Rule{rule("r1", "developer", all, rules.Grant, 0)}, tenantAdm, "brave-otter", read, rules.Deny, ""},
		{"higher priority deny wins", []rules.Rule{rule("g", "*", all, rules.Grant, 0), rule("d", "*", read, rules.Deny, 10)}, dev, "brave-otter", read, rules.Deny, "d"},
		{"higher priority grant wins", []rules.Rule{rule("g", "*", all, rules.Grant, 20), rule("d", "*", read, rules.Deny, 10)}, dev, "brave-otter", read, rules.Grant, "g"},
		{"deny wins ties", []rules.Rule{rule("g", "*", all, rules.Grant, 5), rule("d", "developer", all, rules.Deny, 5)}, dev, "brave-otter", read, rules.Deny, "d"},
		{"deny wins ties in either order", []rules.Rule{rule("d", "developer", all, rules.Deny, 5), rule("g", "*", all, rules.Grant, 5)}, dev, "brave-otter", read, rules.Deny, "d"},
		{"name wildcard matches package", []rules.Rule{rule("r1", "*", svc("m3o.store.v1.*", "*"), rules.Grant, 0)}, dev, "brave-otter", read, rules.Grant, "r1"},
		{"name wildcard does not match other package", []rules.Rule{rule("r1", "*", svc("m3o.store.v1.*", "*"), rules.Grant, 0)}, dev, "brave-otter", svc("m3o.config.v1.ConfigService", "Get"), rules.Deny, ""},
		{"endpoint wildcard in the middle", []rules.Rule{rule("r1", "*", svc("hello", "Get*Item"), rules.Grant, 0)}, dev, "brave-otter", svc("hello", "GetOneItem"), rules.Grant, "r1"},
		{"type must match", []rules.Rule{rule("r1", "*", rules.Resource{Type: "topic", Name: "*", Endpoint: "*"}, rules.Grant, 0)}, dev, "brave-otter", read, rules.Deny, ""},
		{"builtin token is public", nil, anon, "brave-otter", svc("m3o.auth.v1.AuthService", "Token"), rules.Grant, "builtin-public-token"},
		{"builtin public keys", nil, anon, "micro", svc("m3o.auth.v1.AuthService", "PublicKeys"), rules.Grant, "builtin-public-keys"},
		{"builtin public keys watch", nil, anon, "micro", svc("m3o.auth.v1.AuthService", "WatchPublicKeys"), rules.Grant, "builtin-public-keys-watch"},
		{"builtin health", nil, anon, "micro", svc("grpc.health.v1.Health", "Check"), rules.Grant, "builtin-public-health"},
		{"builtin signup", nil, anon, "micro", svc("m3o.auth.v1.SignupService", "Verify"), rules.Grant, "builtin-public-signup"},
		{"builtin password reset code", nil, anon, "brave-otter", svc("m3o.auth.v1.AuthService", "SendPasswordReset"), rules.Grant, "builtin-public-password-reset-send"},
		{"builtin password reset", nil, anon, "brave-otter", svc("m3o.auth.v1.AuthService", "ResetPassword"), rules.Grant, "builtin-public-password-reset"},
		{"inspect is not public", nil, anon, "micro", svc("m3o.auth.v1.AuthService", "Inspect"), rules.Deny, ""},
		{"tenant cannot deny the public token", []rules.Rule{rule("d", "", svc("*", "*"), rules.Deny, rules.MaxPriority)}, anon, "brave-otter", svc("m3o.auth.v1.AuthService", "Token"), rules.Grant, "builtin-public-token"},
		{"micro admin may do everything in a tenant", nil, microAdm, "brave-otter", read, rules.Grant, rules.AdminRuleID},
		{"micro developer is not an admin", nil, microDev, "brave-otter", read, rules.Deny, ""},
		{"tenant admin is not a platform admin", nil, tenantAdm, "micro", read, rules.Deny, ""},
		{
			"admin rule cannot be out-prioritised",
			[]rules.Rule{{ID: "lockout", Namespace: "micro", Scope: "admin", Resource: all, Access: rules.Deny, Priority: rules.MaxPriority}},
			microAdm, "micro", read, rules.Grant, rules.AdminRuleID,
		},
		{
			"an out-of-range priority is capped",
			[]rules.Rule{{ID: "lockout", Namespace: "micro", Scope: "*", Resource: all, Access: rules.Deny, Priority: rules.BuiltinPriority}},
			microAdm, "micro", read, rules.Grant, rules.AdminRuleID,
		},
		{
			"a forged builtin is ignored",
			[]rules.Rule{{ID: "builtin-lockout", Namespace: "micro", Scope: "*", Resource: all, Access: rules.Deny, Priority: rules.BuiltinPriority, Builtin: true}},
			microAdm, "micro", read, rules.Grant, rules.AdminRuleID,
		},
		{
			"stored rules of micro do not reach tenants",
			[]rules.Rule{{ID: "wide", Namespace: "micro", Scope: "", Resource: all, Access: rules.Grant}},
			dev, "brave-otter", read, rules.Deny, "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rules.Evaluate(tt.rules, tt.caller, tt.ns, tt.resource)
			gotRule := ""
			if got.Rule != nil {
				gotRule = got.Rule.ID
			}
			if got.Access != tt.want || gotRule != tt.wantRule {
				t.Errorf("Evaluate(%s, %s) = %s by %q, want %s by %q", tt.ns, tt.resource, got.Access, gotRule, tt.want, tt.wantRule)
			}
			if got.Reason() == "" {
				t.Errorf("Evaluate(%s, %s).Reason() is empty, want an explanation", tt.ns, tt.resource)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything.at.all", true},
		{"Read", "Read", true},
		{"Read", "ReadAll", false},
		{"Read*", "ReadAll", true},
		{"*All", "ReadAll", true},
		{"m3o.store.v1.*", "m3o.store.v1.StoreService", true},
		{"m3o.store.v1.*", "m3o.store.v2.StoreService", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXcYYb", false},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"", "", true},
		{"", "x", false},
		{"**", "x", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.s, func(t *testing.T) {
			if got := rules.Match(tt.pattern, tt.s); got != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func TestBuiltinsCannotBeChanged(t *testing.T) {
	b := rules.Builtins()
	b[0].Access = rules.Deny
	microAdm := rules.Caller{Namespace: "micro", Roles: []string{"admin"}}
	got := rules.Evaluate(nil, microAdm, "micro", svc("x", "y"))
	if got.Access != rules.Grant {
		t.Errorf("Evaluate after changing Builtins() = %s, want GRANT", got.Access)
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("m3o.*.v1.*", "m3o.store.v1.StoreService")
	f.Add("*a*", "bab")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := rules.Match(pattern, s)
		if pattern == s && !got {
			t.Errorf("Match(%q, %q) = false, want true for identical strings", pattern, s)
		}
		if pattern == "*" && !got {
			t.Errorf("Match(\"*\", %q) = false, want true", s)
		}
	})
}

// TestBuiltinsDescribed checks that every built-in rule says it is the
// platform's, and that the admin rule says whose admins it means.
func TestBuiltinsDescribed(t *testing.T) {
	for _, r := range rules.Builtins() {
		if !strings.HasPrefix(r.Description, "Platform rule: ") {
			t.Errorf("built-in %s describes itself as %q, want a description starting %q", r.ID, r.Description, "Platform rule: ")
		}
		if got := rules.FromProto(rules.ToProto(r)); got.Description != r.Description {
			t.Errorf("%s description after a round trip = %q, want %q", r.ID, got.Description, r.Description)
		}
	}
	admin := rules.Builtins()[0]
	if admin.ID != rules.AdminRuleID || !strings.Contains(admin.Description, `admins of namespace "micro"`) {
		t.Errorf("admin rule %s: %q, want it to name the admins of micro", admin.ID, admin.Description)
	}
}
