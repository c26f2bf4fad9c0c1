package proxy

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
)

// route is where one call goes: the connection, and the outgoing context
// carrying the metadata to forward.
type route struct {
	ctx   context.Context
	conn  *grpc.ClientConn
	unary bool
	// caller keys the caller's limits: its account, or its address.
	caller string
	// user is the user's service called, "" for a core API.
	user string
}

// route authenticates, rate-limits and authorizes the call to full, and
// finds where it goes. Its error is already the status to answer with.
func (p *Proxy) route(ctx context.Context, full string) (route, error) {
	r, err := p.find(ctx, full)
	if err != nil {
		return route{}, p.refuse(ctx, full, err)
	}
	return r, nil
}

// find is route before its error becomes a status.
func (p *Proxy) find(ctx context.Context, full string) (route, error) {
	service, method, ok := grpcserver.SplitMethod(full)
	if !ok {
		return route{}, fmt.Errorf("malformed method %q: %w", full, ErrUnknownService)
	}
	caller, err := p.authenticate(ctx)
	if err != nil {
		return route{}, err
	}
	client := p.trusted.clientAddress(ctx)
	key := rateKey(client, caller)
	if err := p.limiter.allow(key); err != nil {
		return route{}, err
	}
	dest, err := destinationOf(ctx, service)
	if err != nil {
		return route{}, err
	}
	if err := p.admit(ctx, caller, dest, service, method); err != nil {
		return route{}, err
	}
	conn, unary, err := p.connect(ctx, caller, dest, full)
	if err != nil {
		return route{}, err
	}
	out := metadata.NewOutgoingContext(ctx, dest.metadata(ctx, caller, client))
	return route{ctx: out, conn: conn, unary: unary || p.methods.unary(service, method), caller: key, user: dest.user}, nil
}

// destination is a core API, by its connection, or a user's service, by
// its name.
type destination struct {
	core *grpc.ClientConn
	pkg  string
	user string
}

// destinationOf decides where a call to service goes. A service of an
// m3o.* package is always a core API. Any other goes to the user's service
// the micro-service header names or, without one, to the one named by the
// first label of the service's package.
func destinationOf(ctx context.Context, service string) (destination, error) {
	pkg := protoPackage(service)
	if strings.HasPrefix(service, platform.ReservedPackagePrefix) {
		return destination{pkg: pkg}, nil
	}
	name, err := serviceHeader(ctx)
	if err != nil {
		return destination{}, err
	}
	if name == "" {
		name, _, _ = strings.Cut(pkg, ".")
	}
	if name == "" {
		return destination{}, fmt.Errorf("service %q has no package and the call no %s header: %w", service, platform.ServiceHeader, ErrUnknownService)
	}
	if err := (mtls.Identity{Namespace: platform.Namespace, Service: name}).Validate(); err != nil {
		return destination{}, fmt.Errorf("%q: %w", name, ErrBadServiceName)
	}
	return destination{user: name}, nil
}

// serviceHeader returns the micro-service header, "" when there is none.
func serviceHeader(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(platform.ServiceHeader)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", fmt.Errorf("%d %s headers: %w", len(vals), platform.ServiceHeader, ErrBadServiceName)
}

// admit applies the namespace's rules. A user's service is the resource
// named after it, its endpoints "Service.Method" as the registry lists
// them; a core API is its full proto service name.
func (p *Proxy) admit(ctx context.Context, caller identity.Caller, dest destination, service, method string) error {
	if dest.user == "" {
		return p.authorize(ctx, caller, service, method)
	}
	if caller.Namespace == "" {
		// A user's service lives in its caller's namespace, which only a
		// token says.
		return fmt.Errorf("service %s needs a token: %w", dest.user, ErrUnauthenticated)
	}
	return p.authorize(ctx, caller, dest.user, shortName(service)+"."+method)
}

// connect returns the connection a call to full at dest takes, and
// whether a user's service registered the method as unary.
func (p *Proxy) connect(ctx context.Context, caller identity.Caller, dest destination, full string) (*grpc.ClientConn, bool, error) {
	if dest.user == "" {
		if conn, ok := p.backends[dest.pkg]; ok {
			return conn, false, nil
		}
		return nil, false, fmt.Errorf("package %q: %w", dest.pkg, ErrUnknownService)
	}
	if p.resolver == nil {
		return nil, false, &NotRunningError{Service: dest.user, Namespace: caller.Namespace}
	}
	return p.resolver.Resolve(ctx, caller.Namespace, dest.user, full)
}

// metadata is the caller's metadata minus what belongs to the hop itself
// (gRPC sets those again on the way out) and minus any caller keys the
// caller sent; a user's service also learns who called, and its own name.
func (dest destination) metadata(ctx context.Context, caller identity.Caller, client string) metadata.MD {
	// FromIncomingContext returns a copy of its own, which becomes the
	// outgoing metadata.
	out, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		out = metadata.MD{}
	}
	for k := range out {
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") || k == "content-type" || k == "user-agent" || k == "te" {
			delete(out, k)
		}
	}
	identity.DropForwarded(out)
	if dest.user != "" {
		identity.SetForwarded(out, caller)
		out.Set(platform.ServiceHeader, dest.user)
	}
	// The one address the proxy decided on, whatever the caller wrote.
	out.Set(identity.ClientAddressKey, client)
	return out
}

// shortName is a full service name without its package.
func shortName(service string) string {
	return service[strings.LastIndexByte(service, '.')+1:]
}

// NotRunningError is a call to a user's service that has no node in the
// caller's namespace. It wraps ErrNotRunning.
type NotRunningError struct {
	// Service is the user's service called.
	Service string
	// Namespace is the caller's namespace.
	Namespace string
}

// Error says which service is not running where; the caller reads it.
func (e *NotRunningError) Error() string {
	return platform.NotRunning(e.Service, e.Namespace)
}

// Unwrap returns ErrNotRunning.
func (e *NotRunningError) Unwrap() error { return ErrNotRunning }
