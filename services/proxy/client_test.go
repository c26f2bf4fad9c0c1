package proxy

import (
	"context"
	"crypto/x509"
	"net"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls/mtlstest"
)

// callFrom is the server context of a call from addr carrying xff, over a
// connection that presented cert (nil for none).
func callFrom(addr, xff string, cert *x509.Certificate) context.Context {
	p := &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 40000}}
	if cert != nil {
		p.AuthInfo = credentials.TLSInfo{State: tlsStateWith(cert)}
	}
	ctx := peer.NewContext(context.Background(), p)
	if xff != "" {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(identity.ClientAddressKey, xff))
	}
	return ctx
}

func TestClientAddress(t *testing.T) {
	ca := mtlstest.NewCA(t)
	gateway := leaf(t, mtlstest.Bundle(t, ca, "micro", "proxy"))
	tenant := leaf(t, mtlstest.Bundle(t, ca, "tenant-a", "greeter"))
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"direct caller", callFrom("203.0.113.9", "", nil), "203.0.113.9"},
		{"direct caller claiming another address", callFrom("203.0.113.9", "198.51.100.1", nil), "203.0.113.9"},
		{"trusted balancer", callFrom("10.1.2.3", "198.51.100.1", nil), "198.51.100.1"},
		{"two trusted balancers", callFrom("10.1.2.3", "198.51.100.1, 192.0.2.7", nil), "198.51.100.1"},
		{"spoofed hop before a trusted balancer", callFrom("10.1.2.3", "6.6.6.6, 198.51.100.1", nil), "198.51.100.1"},
		{"the gateway", callFrom("127.0.0.1", "198.51.100.1", gateway), "198.51.100.1"},
		{"the gateway, client spoofing", callFrom("127.0.0.1", "6.6.6.6, 198.51.100.1", gateway), "198.51.100.1"},
		{"the gateway behind a trusted balancer", callFrom("127.0.0.1", "198.51.100.1, 10.9.9.9", gateway), "198.51.100.1"},
		{"a workload certificate is no gateway", callFrom("127.0.0.1", "198.51.100.1", tenant), "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := trusted.clientAddress(tt.ctx); got != tt.want {
				t.Errorf("clientAddress() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxiesRefusesJunk(t *testing.T) {
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/8", "not-an-address"}); err == nil {
		t.Error("ParseTrustedProxies(junk) = nil, want an error")
	}
}
