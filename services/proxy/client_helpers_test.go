package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"m3o.dev/pkg/mtls"
)

// leaf is a bundle's own certificate.
func leaf(t *testing.T, b *mtls.Bundle) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(b.Cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsStateWith is a connection state whose peer presented cert, verified.
func tlsStateWith(cert *x509.Certificate) tls.ConnectionState {
	return tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert}}}
}
