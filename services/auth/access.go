package auth

import (
	"context"
	"fmt"
	"slices"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/rules"
)

// accountManagers are the core services that manage accounts on their own
// behalf: the runtime gives each deployed service an account. They manage
// service accounts (type service, role service at most) of tenants'
// namespaces only, never an account of micro nor a person's. Other core
// services, the proxy above all, act only through the tokens they forward,
// so a call the proxy relays without one is anonymous here.
var accountManagers = []string{platform.Runtime}

// serviceRole is the one role an account manager may grant.
const serviceRole = "service"

// principal is who calls, as this service judges it.
type principal struct {
	identity.Caller
}

// callerOf returns the verified caller of ctx; the zero principal, which
// may do nothing but the public calls, when there is none.
func callerOf(ctx context.Context) principal {
	c, _ := identity.FromContext(ctx)
	return principal{c}
}

// account reports whether the caller is an account, by token.
func (p principal) account() bool { return p.Service == "" && p.Subject != "" }

// platformAdmin reports whether the caller is an admin of "micro", by token.
func (p principal) platformAdmin() bool { return p.account() && p.IsAdmin() }

// core reports whether the caller is a core service other than the proxy,
// identified by mTLS without a token.
func (p principal) core() bool { return p.IsCoreService() && p.Service != "proxy" }

// manager reports whether the caller is a core service that manages
// accounts.
func (p principal) manager() bool { return p.core() && slices.Contains(accountManagers, p.Service) }

// admin reports whether the caller is an admin of namespace: an admin of
// micro anywhere, or an account with role admin in namespace itself.
func (p principal) admin(namespace string) bool {
	return p.platformAdmin() || p.account() && p.Namespace == namespace && p.HasRole(rules.AdminRole)
}

// member reports whether the caller is an account of namespace.
func (p principal) member(namespace string) bool {
	return p.account() && p.Namespace == namespace
}

// target resolves the namespace a request names: empty means the caller's
// own, and naming another is for admins of micro and core services only.
func (p principal) target(requested string) (string, error) {
	if !p.account() && !p.core() {
		return "", fmt.Errorf("no verified identity: %w", ErrUnauthenticated)
	}
	if requested == "" || requested == p.Namespace {
		return p.Namespace, nil
	}
	if p.platformAdmin() || p.core() {
		return requested, nil
	}
	return "", p.deny("act on namespace %q", requested)
}

// mayManageAccounts reports whether the caller may list the accounts of
// namespace and learn which are missing.
func (p principal) mayManageAccounts(namespace string) bool {
	return p.admin(namespace) || p.manager() && namespace != platform.Namespace
}

// mayManage reports whether the caller may read, disable, delete and change
// the secret of account a: an admin of its namespace may, and an account
// manager may when a is a tenant's service account.
func (p principal) mayManage(a Account) bool {
	return p.admin(a.Namespace) || p.manager() && a.Namespace != platform.Namespace && a.Type == TypeService
}

// mayCreate reports whether the caller may create spec in namespace: an
// admin of it may, and an account manager may create a service account of
// a tenant with no role beyond service.
func (p principal) mayCreate(namespace string, spec AccountSpec) bool {
	if p.admin(namespace) {
		return true
	}
	if !p.manager() || namespace == platform.Namespace || spec.Type != TypeService {
		return false
	}
	for _, r := range spec.Roles {
		if r != serviceRole {
			return false
		}
	}
	return true
}

// mayManageRules reports whether the caller may create and delete rules of
// namespace.
func (p principal) mayManageRules(namespace string) bool { return p.admin(namespace) }

// mayReadRules reports whether the caller may list the rules of namespace
// and explain decisions in it. Every core service may, for its rule cache.
func (p principal) mayReadRules(namespace string) bool {
	return p.member(namespace) || p.admin(namespace) || p.core()
}

// isSelf reports whether the caller is the account a.
func (p principal) isSelf(a Account) bool {
	return p.account() && p.Namespace == a.Namespace && p.Subject == a.ID
}

// deny returns the error for a refused action: a sentence saying who may
// not do what, with the action given as a format and its arguments.
func (p principal) deny(action string, args ...any) error {
	return fmt.Errorf("%s may not %s: %w", p.describe(), fmt.Sprintf(action, args...), ErrPermissionDenied)
}

// describe names the caller in a sentence.
func (p principal) describe() string {
	switch {
	case p.account():
		return fmt.Sprintf("account %s of namespace %q", p.Subject, p.Namespace)
	case p.Service != "":
		return fmt.Sprintf("service %s/%s", p.Namespace, p.Service)
	}
	return "a caller without a verified identity"
}
