package billing

import (
	"context"
	"fmt"
	"slices"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/rpcerr"
)

// Who may call what. The namespace a call acts on comes from the verified
// identity; only an admin of micro, or a core service that must, names
// another.
//
//   - sign-up: micro/auth starts checkouts, reads them and creates the
//     subscription, on its own behalf (mTLS, no token);
//   - the subscribe page and webhooks: micro/router, the proxy's own
//     identity, reads checkouts, submits cards and relays webhooks;
//   - gating: micro/router and micro/runtime watch every status;
//   - tenants: any account of a namespace reads its subscription; an
//     account with the role admin there also cancels and opens the portal;
//   - admins of micro: everything a tenant may, for any namespace, plus
//     listing every subscription and setting a status by hand.

// coreCaller returns the caller when it is one of the core services named,
// calling on its own behalf.
func coreCaller(ctx context.Context, services ...string) (identity.Caller, error) {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return c, err
	}
	if !c.IsCoreService() || !slices.Contains(services, c.Service) {
		return c, fmt.Errorf("%s may not make this call: %w", c, ErrPermissionDenied)
	}
	return c, nil
}

// adminCaller returns the caller when it is an admin of micro.
func adminCaller(ctx context.Context) (identity.Caller, error) {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return c, err
	}
	if !c.IsAdmin() {
		return c, fmt.Errorf("%s is not an admin of %s: %w", c, platform.Namespace, ErrPermissionDenied)
	}
	return c, nil
}

// readable returns the namespace whose subscription the caller reads: its
// own unless it names another, which an admin of micro and the core
// services auth and runtime may.
func readable(c identity.Caller, asked string) (string, error) {
	if c.IsCoreService() && (c.Service == platform.Auth || c.Service == platform.Runtime) {
		if asked == "" {
			return "", invalid.Field("namespace", "is required for a core service")
		}
		return asked, namespaceArg(asked)
	}
	return ownOrAdmin(c, asked)
}

// manageable returns the namespace whose subscription the caller cancels
// or pays for: its own, as an account with the role admin there, or any,
// as an admin of micro.
func manageable(c identity.Caller, asked string) (string, error) {
	ns, err := ownOrAdmin(c, asked)
	if err != nil {
		return "", err
	}
	if c.Service != "" || !c.HasRole("admin") {
		return "", fmt.Errorf("%s may not manage the subscription of %q: it needs the role admin: %w", c, ns, ErrPermissionDenied)
	}
	return ns, nil
}

// ownOrAdmin returns the caller's own namespace, or the one it asks for
// when it is an admin of micro. A core service has no subscription of its
// own to read.
func ownOrAdmin(c identity.Caller, asked string) (string, error) {
	switch {
	case c.Service != "":
		return "", fmt.Errorf("%s has no subscription: %w", c, ErrPermissionDenied)
	case asked == "" || asked == c.Namespace:
		return c.Namespace, nil
	case !c.IsAdmin():
		return "", fmt.Errorf("%s may not use namespace %q: %w", c, asked, ErrPermissionDenied)
	}
	return asked, namespaceArg(asked)
}
