package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
)

// runtimeIdentity is the runtime's, which may ask an instance's health.
var runtimeIdentity = mtls.Identity{Namespace: platform.Namespace, Service: platform.Runtime}

// healthPrefix starts the methods of the gRPC health service.
const healthPrefix = "/grpc.health.v1.Health/"

// access decides who may call an instance of a service in namespace. It is
// the whole of what the SDK trusts:
//
//   - micro/proxy, whose certificate chains to the platform CA, relays
//     calls it has authenticated; the caller is the one it names in the
//     forwarded metadata (identity.Forwarded), and must be of namespace.
//   - A workload of namespace, by its certificate, is the caller itself.
//   - micro/runtime may ask health, and nothing else.
//
// Anyone else fails the TLS handshake, and, should a handshake ever let
// them through, every call with PermissionDenied.
type access struct {
	namespace string
}

// admitPeer is the handshake's check of a verified client certificate.
func (a access) admitPeer(id mtls.Identity) error {
	if id == identity.ProxyIdentity || id == runtimeIdentity || id.Namespace == a.namespace {
		return nil
	}
	return fmt.Errorf("%s may not call services of namespace %s", id, a.namespace)
}

// admit decides one call and returns the context carrying its caller.
func (a access) admit(ctx context.Context, method string) (context.Context, error) {
	id, err := mtls.PeerIdentity(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, "This service takes calls only over platform mTLS.")
	}
	switch {
	case id == identity.ProxyIdentity:
		return a.relayed(ctx)
	case id.Namespace == a.namespace:
		return identity.NewContext(ctx, identity.Caller{Namespace: id.Namespace, Subject: id.Service, Service: id.Service}), nil
	case id == runtimeIdentity && strings.HasPrefix(method, healthPrefix):
		return ctx, nil
	}
	return nil, status.Errorf(codes.PermissionDenied, "%s may not call services of namespace %s.", id, a.namespace)
}

// relayed admits a call the proxy relays for a caller of the namespace.
func (a access) relayed(ctx context.Context) (context.Context, error) {
	c, ok := identity.Forwarded(ctx)
	if !ok {
		return nil, status.Error(codes.PermissionDenied, "The proxy relayed this call without naming its caller.")
	}
	if c.Namespace != a.namespace {
		return nil, status.Errorf(codes.PermissionDenied, "Callers of namespace %s may not call services of namespace %s.", c.Namespace, a.namespace)
	}
	return identity.NewContext(ctx, c), nil
}

// unary is the unary server interceptor of access.
func (a access) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := a.admit(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// stream is the stream server interceptor of access.
func (a access) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := a.admit(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, &callerStream{ServerStream: ss, ctx: ctx})
}

// callerStream carries the context with the caller to a stream handler.
type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the context that carries the caller.
func (s *callerStream) Context() context.Context { return s.ctx }

// serverTLS is the instance's server configuration: TLS 1.3, the current
// certificate, and client certificates required, verified against the
// current CA and checked by admit before any call is read.
func (c *certs) serverTLS(admit func(mtls.Identity) error) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m, err := c.current()
			if err != nil {
				return nil, err
			}
			return m.serverConfig(admit), nil
		},
	}
}

func (m *material) serverConfig(admit func(mtls.Identity) error) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{m.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    m.roots,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errNoChain
			}
			id, err := mtls.IdentityFromCert(cs.PeerCertificates[0])
			if err != nil {
				return err
			}
			return admit(id)
		},
	}
}

// proxyTLS is the configuration the instance reaches the proxy with: the
// proxy's public port asks for no client certificate, and the instance
// trusts the identity micro/proxy under the current CA, not a host name.
func (c *certs) proxyTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// verifyProxy verifies the whole chain in place of the host name
		// check.
		InsecureSkipVerify: true,
		VerifyConnection:   c.verifyProxy,
	}
}

func (c *certs) verifyProxy(cs tls.ConnectionState) error {
	m, err := c.current()
	if err != nil {
		return err
	}
	id, err := verifyChain(cs.PeerCertificates, m.roots, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return err
	}
	if id != identity.ProxyIdentity {
		return fmt.Errorf("the proxy's address answered as %s", id)
	}
	return nil
}
