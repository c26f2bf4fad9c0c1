package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls/mtlstest"
)

func TestClientAddress(t *testing.T) {
	ca := mtlstest.NewCA(t)
	certOf := func(service string) *x509.Certificate {
		b := mtlstest.Bundle(t, ca, "micro", service)
		c, err := x509.ParseCertificate(b.Cert.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	proxy, runtime := certOf("proxy"), certOf("runtime")
	call := func(cert *x509.Certificate, addr string, forwarded ...string) context.Context {
		p := &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 40000}}
		if cert != nil {
			p.AuthInfo = credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}}
		}
		ctx := peer.NewContext(context.Background(), p)
		if len(forwarded) > 0 {
			ctx = metadata.NewIncomingContext(ctx, metadata.MD{identity.ClientAddressKey: forwarded})
		}
		return ctx
	}
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"proxy passes the client on", call(proxy, "10.0.0.5", "203.0.113.7:51234"), "203.0.113.7"},
		{"proxy appends to what the client claimed", call(proxy, "10.0.0.5", "192.0.2.1", "203.0.113.7:51234"), "203.0.113.7"},
		{"comma-separated list", call(proxy, "10.0.0.5", "192.0.2.1, 203.0.113.7:443"), "203.0.113.7"},
		{"IPv6 with port", call(proxy, "10.0.0.5", "[2001:db8::1]:443"), "2001:db8::1"},
		{"proxy without the header", call(proxy, "10.0.0.5"), "10.0.0.5"},
		{"another service's header is ignored", call(runtime, "10.0.0.6", "203.0.113.7:51234"), "10.0.0.6"},
		{"a plain-text caller's header is ignored", call(nil, "10.0.0.7", "203.0.113.7:51234"), "10.0.0.7"},
		{"no peer", context.Background(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientAddress(tt.ctx); got != tt.want {
				t.Errorf("clientAddress(%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}
