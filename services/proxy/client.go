package proxy

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
)

// TrustedProxies are the load balancers in front of the proxy whose
// X-Forwarded-For the proxy believes. Nobody else's is believed: any caller
// can write the header.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies reads addresses and CIDR ranges, such as
// "10.0.0.0/8" or "192.0.2.7".
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (t TrustedProxies) contains(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddress is the address the call came from, as far as the proxy
// can know it. It walks the chain of addresses from the nearest hop back,
// skipping trusted load balancers, and stops at the first hop it does not
// trust: an address an untrusted hop claims for someone else is never
// believed. The proxy's own HTTP gateway (its mTLS identity on the public
// port) is a hop whose X-Forwarded-For is believed: it appends the HTTP
// client's address.
func (t TrustedProxies) clientAddress(ctx context.Context) string {
	chain := []string{peerHost(ctx)}
	if fromGateway(ctx) {
		chain = forwardedChain(ctx)
	} else if t.contains(chain[0]) {
		chain = append(forwardedChain(ctx), chain[0])
	}
	for i := len(chain) - 1; i > 0; i-- {
		if !t.contains(chain[i]) {
			return chain[i]
		}
	}
	return chain[0]
}

// forwardedChain is the incoming X-Forwarded-For, oldest hop first.
func forwardedChain(ctx context.Context) []string {
	md, _ := metadata.FromIncomingContext(ctx)
	var chain []string
	for _, v := range md.Get(identity.ClientAddressKey) {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				chain = append(chain, a)
			}
		}
	}
	if len(chain) == 0 {
		chain = []string{peerHost(ctx)}
	}
	return chain
}

// fromGateway reports whether the call is the proxy's own HTTP gateway's,
// which presents the proxy's certificate on the public port.
func fromGateway(ctx context.Context) bool {
	id, err := mtls.PeerIdentity(ctx)
	return err == nil && id == identity.ProxyIdentity
}

// peerHost is the address of the connection's other end, without its port.
func peerHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok && tcp.Zone == "" {
		// The common case, without formatting the port only to cut it off.
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return p.Addr.String()
	}
	return host
}
