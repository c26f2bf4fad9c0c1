// Package identity establishes who is calling a gRPC service: a bearer
// token verified locally, or, when a core service calls on its own behalf,
// the verified mTLS identity of the connection.
//
// The namespace a caller acts in always comes from one of those two verified
// sources, never from a request field or a header the caller chose.
// Handlers read the result with FromContext.
package identity

import (
	"context"
	"slices"
)

// PlatformNamespace is the namespace of the core services and the admins.
const PlatformNamespace = "micro"

// Caller is the verified identity behind a call.
type Caller struct {
	// Namespace is the namespace the caller acts in: the token's ns claim,
	// or the namespace of the mTLS identity.
	Namespace string
	// Subject is the account id from the token, or the service name for a
	// caller identified by mTLS alone.
	Subject string
	// Service is set only when the caller was identified by mTLS without a
	// token: a core service calling on its own behalf, or, in a user's
	// service, a workload of its own namespace.
	Service string
	// Roles are the roles from the token.
	Roles []string
}

// IsAdmin reports whether the caller is an admin of the platform: role
// "admin" in namespace "micro".
func (c Caller) IsAdmin() bool {
	return c.Namespace == PlatformNamespace && c.HasRole("admin")
}

// IsCoreService reports whether the caller is a core service of the platform
// calling on its own behalf.
func (c Caller) IsCoreService() bool {
	return c.Service != "" && c.Namespace == PlatformNamespace
}

// HasRole reports whether the caller holds role r.
func (c Caller) HasRole(r string) bool {
	return slices.Contains(c.Roles, r)
}

// String describes the caller for logs: namespace/subject, with the service
// marked when there is one.
func (c Caller) String() string {
	if c.Service != "" {
		return c.Namespace + "/" + c.Service + " (service)"
	}
	return c.Namespace + "/" + c.Subject
}

// callerKey is the context key of the Caller; being unexported, no other
// package can plant a Caller in a context.
type callerKey struct{}

// NewContext returns a context carrying c.
func NewContext(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the Caller that the interceptors put in ctx, and
// whether there was one.
func FromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
