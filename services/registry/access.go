package registry

import (
	"context"
	"fmt"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/rpcerr"
)

// access says whether a call only reads a domain or also writes it.
type access int

const (
	read access = iota
	write
	// remove is a write that only takes nodes away (Deregister).
	remove
)

// domainFor returns the domain a call acts on: the caller's namespace unless
// the request names another. A tenant reads its own domain and CoreDomain and
// writes only its own; CoreDomain is written only by core services and
// admins. Core services read every domain, because routing to a tenant's
// services (the proxy) and telling when they run (the runtime) is their
// job; of tenants' domains they write nothing, except that the runtime
// takes out the nodes of the instances it stopped. Admins may do anything
// anywhere.
func domainFor(ctx context.Context, field, requested string, a access) (string, error) {
	caller, err := rpcerr.Caller(ctx)
	if err != nil {
		return "", err
	}
	domain := caller.Namespace
	if requested != "" {
		if err := ValidateDomain(field, requested); err != nil {
			return "", err
		}
		domain = requested
	}
	if err := allowed(caller, domain, a); err != nil {
		return "", err
	}
	return domain, nil
}

// allowed applies the domain rules to one caller.
func allowed(caller identity.Caller, domain string, a access) error {
	switch {
	case caller.IsAdmin():
		return nil
	case domain == CoreDomain && a == read:
		return nil
	case domain == CoreDomain:
		if caller.IsCoreService() {
			return nil
		}
		return fmt.Errorf("only core services and admins write domain %q: %w", domain, ErrPermissionDenied)
	case domain == caller.Namespace:
		return nil
	case caller.IsCoreService() && a == read:
		return nil
	case caller.IsCoreService() && caller.Service == platform.Runtime && a == remove:
		return nil
	}
	return fmt.Errorf("namespace %q may not use domain %q: %w", caller.Namespace, domain, ErrPermissionDenied)
}
