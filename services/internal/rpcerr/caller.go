package rpcerr

import (
	"context"

	"m3o.dev/pkg/identity"
)

// Caller returns the verified identity of the call in ctx, which the
// authenticating interceptor put there, or ErrUnauthenticated when the call
// carries none. Every RPC that acts for somebody starts here.
func Caller(ctx context.Context) (identity.Caller, error) {
	c, ok := identity.FromContext(ctx)
	if !ok || c.Namespace == "" {
		return identity.Caller{}, ErrUnauthenticated
	}
	return c, nil
}
