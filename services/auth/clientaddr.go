package auth

import (
	"context"
	"net"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
)

// maxAddress bounds an address as kept in the login limiter.
const maxAddress = 64

// clientAddress returns the address of the client behind a call, as the
// login limiter counts it: the host without the port. Only the proxy's
// word is taken for it: when the immediate mTLS peer is micro/proxy, it is
// the last address in x-forwarded-for, the one the proxy appended; from
// anyone else, x-forwarded-for is whatever the caller chose, so it is the
// connection's own peer address.
func clientAddress(ctx context.Context) string {
	if id, err := mtls.PeerIdentity(ctx); err == nil && id == identity.ProxyIdentity {
		md, _ := metadata.FromIncomingContext(ctx)
		if vals := md.Get(identity.ClientAddressKey); len(vals) > 0 {
			last := vals[len(vals)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if host := hostOf(strings.TrimSpace(last)); host != "" {
				return host
			}
		}
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return hostOf(p.Addr.String())
	}
	return ""
}

// hostOf returns the host of a host:port, or addr itself when it has no
// port, in canonical form when it is an IP address.
func hostOf(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	if len(host) > maxAddress {
		host = host[:maxAddress]
	}
	return host
}
