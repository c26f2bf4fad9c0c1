package rules

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Access is what a rule decides. Its zero value is Deny, so a decision that
// was never made refuses.
type Access int

const (
	// Deny refuses the request.
	Deny Access = iota
	// Grant allows the request.
	Grant
)

// String returns "DENY" or "GRANT".
func (a Access) String() string {
	if a == Grant {
		return "GRANT"
	}
	return "DENY"
}

const (
	// MaxPriority is the highest priority a stored rule may have.
	MaxPriority = 1_000_000
	// MinPriority is the lowest priority a stored rule may have.
	MinPriority = -1_000_000
	// BuiltinPriority is the priority of the built-in rules. It is above
	// MaxPriority so that no stored rule can outrank them.
	BuiltinPriority = math.MaxInt32
)

const (
	// ScopePublic is the scope of rules that apply to anyone, even callers
	// without a token.
	ScopePublic = ""
	// ScopeAccounts is the scope of rules that apply to any account of the
	// rule's namespace.
	ScopeAccounts = "*"
	// PlatformNamespace is the namespace of the core services and admins.
	PlatformNamespace = "micro"
	// AdminRole is the role whose holders in PlatformNamespace may do
	// everything.
	AdminRole = "admin"
	// TypeService is the resource type of RPCs.
	TypeService = "service"
	// BuiltinPrefix starts the id of every built-in rule; stored rules may
	// not use it.
	BuiltinPrefix = "builtin-"
)

// Resource is what a request touches, or in a rule, a pattern of what it
// matches, where "*" in any field matches any run of characters.
type Resource struct {
	// Type is the kind of resource, TypeService for RPCs.
	Type string
	// Name is the service, such as "m3o.store.v1.StoreService".
	Name string
	// Endpoint is the method, such as "Read".
	Endpoint string
}

// String returns "type:name/endpoint", for reasons and logs.
func (r Resource) String() string {
	return r.Type + ":" + r.Name + "/" + r.Endpoint
}

// Rule grants or denies a scope access to resources of a namespace.
type Rule struct {
	// ID identifies the rule within its namespace.
	ID string
	// Namespace is the namespace whose resources the rule governs, and whose
	// accounts ScopeAccounts and role scopes mean.
	Namespace string
	// Scope is ScopePublic, ScopeAccounts or a role name.
	Scope string
	// Resource is the pattern of resources the rule matches.
	Resource Resource
	// Access is what the rule decides.
	Access Access
	// Priority orders rules: the highest matching priority decides.
	Priority int32
	// Builtin marks the rules of the evaluator itself, which apply in every
	// namespace and cannot be deleted.
	Builtin bool
	// Description says what the rule is for. A built-in rule's says that it
	// is the platform's, and whom it applies to: its scope "admin" means the
	// admins of PlatformNamespace, never a namespace's own.
	Description string
}

// String describes the rule in a few words, for reasons and logs.
func (r Rule) String() string {
	return fmt.Sprintf("rule %q (%s %s to scope %q at priority %d)",
		r.ID, r.Access, r.Resource, r.Scope, r.Priority)
}

// Caller is who makes a request.
type Caller struct {
	// Namespace is the caller's namespace, from a verified token or mTLS
	// identity; empty for a caller without one.
	Namespace string
	// Roles are the caller's roles in its namespace.
	Roles []string
}

// Anonymous reports whether the caller has no verified identity.
func (c Caller) Anonymous() bool { return c.Namespace == "" }

// Decision is the outcome of Evaluate.
type Decision struct {
	// Access is Grant or Deny.
	Access Access
	// Rule is the rule that decided, or nil when none matched and the
	// default denial applied.
	Rule *Rule
	// namespace and resource are what was asked, for the default denial's
	// reason; unavailable says the rules could not be read.
	namespace   string
	resource    Resource
	unavailable bool
}

// Reason explains the decision in one sentence. It is composed when asked
// for: most decisions are grants whose reason nobody reads.
func (d Decision) Reason() string {
	switch {
	case d.unavailable:
		return "the rules of the namespace are unavailable"
	case d.Rule != nil:
		return reason(*d.Rule)
	default:
		return fmt.Sprintf("no rule of namespace %q grants %s, so it is denied by default", d.namespace, d.resource)
	}
}

// Builtin rule ids.
const (
	// AdminRuleID names the rule letting admins of micro do everything.
	AdminRuleID = BuiltinPrefix + "micro-admin"
)

// builtins are the rules every namespace has. They are evaluated before any
// stored rule and at BuiltinPriority, which no stored rule can reach.
var builtins = []Rule{
	builtin(AdminRuleID, AdminRole, "*", "*", "*",
		"Platform rule: the admins of namespace \"micro\", who run the platform, may call everything in every namespace; a namespace's own admins get nothing from it."),
	builtin(BuiltinPrefix+"public-token", ScopePublic, TypeService, "m3o.auth.v1.AuthService", "Token",
		"Platform rule: anyone may log in or refresh a token."),
	builtin(BuiltinPrefix+"public-keys", ScopePublic, TypeService, "m3o.auth.v1.AuthService", "PublicKeys",
		"Platform rule: anyone may fetch the public keys that verify tokens."),
	builtin(BuiltinPrefix+"public-keys-watch", ScopePublic, TypeService, "m3o.auth.v1.AuthService", "WatchPublicKeys",
		"Platform rule: anyone may follow the public keys that verify tokens."),
	builtin(BuiltinPrefix+"public-password-reset-send", ScopePublic, TypeService, "m3o.auth.v1.AuthService", "SendPasswordReset",
		"Platform rule: anyone may ask for a code that resets a forgotten password."),
	builtin(BuiltinPrefix+"public-password-reset", ScopePublic, TypeService, "m3o.auth.v1.AuthService", "ResetPassword",
		"Platform rule: anyone with a mailed code may reset the password it is for."),
	builtin(BuiltinPrefix+"public-signup", ScopePublic, TypeService, "m3o.auth.v1.SignupService", "*",
		"Platform rule: anyone may sign up."),
	builtin(BuiltinPrefix+"public-health", ScopePublic, TypeService, "grpc.health.v1.Health", "*",
		"Platform rule: anyone may check the health of a service."),
}

func builtin(id, scope, typ, name, endpoint, description string) Rule {
	return Rule{
		ID:          id,
		Namespace:   PlatformNamespace,
		Scope:       scope,
		Resource:    Resource{Type: typ, Name: name, Endpoint: endpoint},
		Access:      Grant,
		Priority:    BuiltinPriority,
		Builtin:     true,
		Description: description,
	}
}

// Builtins returns the built-in rules, which Evaluate always applies.
func Builtins() []Rule { return slices.Clone(builtins) }

// IsBuiltinID reports whether id is reserved for built-in rules.
func IsBuiltinID(id string) bool {
	return strings.HasPrefix(id, BuiltinPrefix)
}

// NamespaceDefault returns the rule a new namespace starts with: any account
// of the namespace may call everything in it. It is an ordinary rule at
// priority 0, so the namespace's admins may outrank or delete it.
func NamespaceDefault(namespace string) Rule {
	return Rule{
		ID:          "namespace-accounts",
		Namespace:   namespace,
		Scope:       ScopeAccounts,
		Resource:    Resource{Type: "*", Name: "*", Endpoint: "*"},
		Access:      Grant,
		Description: "Any account of the namespace may call everything in it; the namespace's admins may outrank or delete this rule.",
	}
}
