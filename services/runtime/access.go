package runtime

import (
	"context"
	"fmt"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/rpcerr"
)

// target returns the namespace a call acts in: the caller's own, from its
// verified identity, or, for an admin of micro only, the one the request
// names. Anyone else who names a namespace, even their own, is refused:
// the field is an admin's tool, and a tenant's client never needs it.
func target(ctx context.Context, requested string) (string, error) {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return "", err
	}
	if requested == "" {
		return c.Namespace, nil
	}
	if !c.IsAdmin() {
		return "", fmt.Errorf("only admins of %q may name a namespace; leave namespace empty to act in your own: %w", platform.Namespace, ErrPermissionDenied)
	}
	if err := platform.ValidNamespace(requested); err != nil {
		return "", invalid.Field("namespace", "must be %s", platform.NamespaceRule)
	}
	return requested, nil
}

// runnable refuses the platform's own namespace, where no developer's
// service runs: the workload CA never signs a micro identity.
func runnable(ns string) error {
	if ns == platform.Namespace {
		return invalid.Field("namespace", "services run in tenants' namespaces, never in %q; name a tenant's namespace", platform.Namespace)
	}
	return nil
}

// admin refuses callers other than admins of micro.
func admin(ctx context.Context) error {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return err
	}
	if !c.IsAdmin() {
		return fmt.Errorf("only admins of %q may do this: %w", platform.Namespace, ErrPermissionDenied)
	}
	return nil
}
