package identity

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Metadata keys with which the proxy tells a user's service who called.
// The proxy removes any of them a caller sent and sets them from the token
// it verified; a user's service believes them only on a connection whose
// verified mTLS identity is ProxyIdentity.
const (
	// CallerNamespaceKey carries the caller's namespace.
	CallerNamespaceKey = "micro-caller-namespace"
	// CallerAccountKey carries the caller's account id.
	CallerAccountKey = "micro-caller-account"
	// CallerRolesKey carries the caller's roles, comma-separated.
	CallerRolesKey = "micro-caller-roles"
)

// ClientAddressKey carries the address of the client the proxy serves. The
// proxy sets it to the one address it decided on; a core service believes
// it only on a connection whose verified identity is ProxyIdentity.
const ClientAddressKey = "x-forwarded-for"

var forwardedKeys = []string{CallerNamespaceKey, CallerAccountKey, CallerRolesKey}

// SetForwarded replaces the caller keys in md with c, dropping whatever
// the caller sent under them.
func SetForwarded(md metadata.MD, c Caller) {
	DropForwarded(md)
	md.Set(CallerNamespaceKey, c.Namespace)
	md.Set(CallerAccountKey, c.Subject)
	if len(c.Roles) > 0 {
		md.Set(CallerRolesKey, strings.Join(c.Roles, ","))
	}
}

// DropForwarded removes the caller keys from md, so that a caller cannot
// pass itself off as someone else through the proxy.
func DropForwarded(md metadata.MD) {
	for _, k := range forwardedKeys {
		md.Delete(k)
	}
}

// Forwarded returns the Caller the proxy named in ctx's incoming metadata,
// and false unless it named exactly one namespace and one account. Only a
// server that has verified that its peer is the proxy may believe it.
func Forwarded(ctx context.Context) (Caller, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	ns, acct := md.Get(CallerNamespaceKey), md.Get(CallerAccountKey)
	if len(ns) != 1 || len(acct) != 1 || ns[0] == "" || acct[0] == "" {
		return Caller{}, false
	}
	c := Caller{Namespace: ns[0], Subject: acct[0]}
	if roles := md.Get(CallerRolesKey); len(roles) == 1 && roles[0] != "" {
		c.Roles = strings.Split(roles[0], ",")
	}
	return c, true
}
