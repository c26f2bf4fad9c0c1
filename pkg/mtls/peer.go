package mtls

import (
	"context"
	"fmt"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// PeerIdentity returns the identity of the caller of a gRPC server handler,
// read from the client certificate that the TLS handshake verified. A
// certificate the handshake did not verify never counts.
func PeerIdentity(ctx context.Context) (Identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return Identity{}, fmt.Errorf("no peer in context: %w", ErrNoIdentity)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return Identity{}, fmt.Errorf("peer %s did not use TLS: %w", p.Addr, ErrNoIdentity)
	}
	chains := info.State.VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return Identity{}, fmt.Errorf("peer %s has no verified certificate: %w", p.Addr, ErrNoIdentity)
	}
	return IdentityFromCert(chains[0][0])
}
