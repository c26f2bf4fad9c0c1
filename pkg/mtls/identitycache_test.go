package mtls_test

import (
	"crypto/x509"
	"errors"
	"net/url"
	"testing"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
)

// TestIdentityFromCertRemembers checks that a certificate's identity is
// the same when it is asked for again, as on every call of a connection,
// and that a certificate without a platform identity is refused every time
// rather than remembered.
func TestIdentityFromCertRemembers(t *testing.T) {
	b := mtlstest.Bundle(t, mtlstest.NewCA(t), "brave-otter-lamp", "hello")
	leaf := b.Cert.Leaf
	want := mtls.Identity{Namespace: "brave-otter-lamp", Service: "hello"}
	for i := range 3 {
		if got, err := mtls.IdentityFromCert(leaf); err != nil || got != want {
			t.Fatalf("IdentityFromCert, call %d = %v, %v; want %v", i+1, got, err, want)
		}
	}
	bad := &x509.Certificate{URIs: []*url.URL{{Scheme: "spiffe", Host: "elsewhere", Path: "/ns/a/svc/b"}}}
	for i := range 2 {
		if _, err := mtls.IdentityFromCert(bad); !errors.Is(err, mtls.ErrNoIdentity) {
			t.Fatalf("IdentityFromCert(foreign URI), call %d = %v, want ErrNoIdentity", i+1, err)
		}
	}
}

// BenchmarkIdentityFromCert is the cost of a call's identity lookup on a
// connection whose certificate was seen before.
func BenchmarkIdentityFromCert(b *testing.B) {
	leaf := mtlstest.Bundle(b, mtlstest.NewCA(b), "micro", "store").Cert.Leaf
	for b.Loop() {
		if _, err := mtls.IdentityFromCert(leaf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseIdentity is the cost of parsing and validating an
// identity URI, which IdentityFromCert pays once per certificate.
func BenchmarkParseIdentity(b *testing.B) {
	for b.Loop() {
		if _, err := mtls.ParseIdentity("spiffe://m3o/ns/micro/svc/store"); err != nil {
			b.Fatal(err)
		}
	}
}
