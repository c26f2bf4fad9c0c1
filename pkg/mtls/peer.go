package mtls

import (
	"context"
	"fmt"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Why a peer has no identity. They are built once: public callers of the
// proxy present no certificate, and every one of their calls asks.
var (
	errNoPeer         = fmt.Errorf("no peer in context: %w", ErrNoIdentity)
	errNotTLS         = fmt.Errorf("the peer did not use TLS: %w", ErrNoIdentity)
	errNoVerifiedCert = fmt.Errorf("the peer has no verified certificate: %w", ErrNoIdentity)
)

// PeerIdentity returns the identity of the caller of a gRPC server handler,
// read from the client certificate that the TLS handshake verified. A
// certificate the handshake did not verify never counts.
func PeerIdentity(ctx context.Context) (Identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return Identity{}, errNoPeer
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return Identity{}, errNotTLS
	}
	chains := info.State.VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return Identity{}, errNoVerifiedCert
	}
	return IdentityFromCert(chains[0][0])
}
