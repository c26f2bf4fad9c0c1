package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"m3o.dev/pkg/platform"
)

// ErrNoIdentity is returned when a certificate or connection carries no
// verified platform identity.
var ErrNoIdentity = errors.New("no verified platform identity")

// Bundle is what one workload needs to take part in platform mTLS: its own
// certificate and key, and the CA it trusts.
type Bundle struct {
	// Cert is the workload's certificate chain and private key.
	Cert tls.Certificate
	// Roots holds the platform CA.
	Roots *x509.CertPool
	// Identity is the identity in Cert's URI SAN.
	Identity Identity

	certPEM, keyPEM, caPEM []byte
}

// newBundle builds a Bundle from PEM data and checks that the certificate
// carries a platform identity and chains to the CA.
func newBundle(certPEM, keyPEM, caPEM []byte) (*Bundle, error) {
	cert, err := loadKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("key pair: %w", err)
	}
	roots, cas, err := parseCAs(caPEM)
	if err != nil {
		return nil, err
	}
	id, err := IdentityFromCert(cert.Leaf)
	if err != nil {
		return nil, err
	}
	if !chainsTo(cert, cas) {
		return nil, fmt.Errorf("certificate of %s is not signed by the CA", id)
	}
	return &Bundle{Cert: cert, Roots: roots, Identity: id, certPEM: certPEM, keyPEM: keyPEM, caPEM: caPEM}, nil
}

// parseCAs parses every certificate in caPEM. More than one is allowed so
// that a CA can be rolled over with both trusted for a while.
func parseCAs(caPEM []byte) (*x509.CertPool, []*x509.Certificate, error) {
	var cas []*x509.Certificate
	for rest := caPEM; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("CA: %w", err)
		}
		cas = append(cas, c)
	}
	if len(cas) == 0 {
		return nil, nil, errors.New("CA: no certificate in PEM data")
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	return pool, cas, nil
}

// signedByAny reports whether one of cas signed leaf. Validity periods are
// left to each handshake: a bundle read from disk may legitimately be renewed
// later, and an expired one fails loudly at its first connection.
func signedByAny(leaf *x509.Certificate, cas []*x509.Certificate) bool {
	for _, ca := range cas {
		if leaf.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

// chainsTo reports whether cert's leaf was signed by one of cas, directly
// or through a CA certificate that follows it in the chain and that one of
// cas signed: the root's path length allows one intermediate.
func chainsTo(cert tls.Certificate, cas []*x509.Certificate) bool {
	if signedByAny(cert.Leaf, cas) {
		return true
	}
	for _, der := range cert.Certificate[1:] {
		inter, err := x509.ParseCertificate(der)
		if err == nil && inter.IsCA && cert.Leaf.CheckSignatureFrom(inter) == nil && signedByAny(inter, cas) {
			return true
		}
	}
	return false
}

// checkIssuer refuses a platform identity (namespace micro) that was not
// issued by the platform CA itself. Only the runtime's workload CA sits
// between the platform CA and a leaf, and it signs tenants' workloads
// only; whatever its key might be made to sign, no peer takes it for a
// core service.
func checkIssuer(id Identity, chains [][]*x509.Certificate) error {
	if id.Namespace != platform.Namespace {
		return nil
	}
	for _, chain := range chains {
		if len(chain) == 2 {
			return nil
		}
	}
	return fmt.Errorf("%s was issued by an intermediate CA, which signs tenants' workloads only: %w", id, ErrNoIdentity)
}

// ServerConfig returns the configuration of a platform server: TLS 1.3 only,
// and every client must present a certificate that chains to the CA and
// carries a platform identity.
func (b *Bundle) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{b.Cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    b.Roots,
		// The chain is already verified by then; refusing a certificate
		// without an identity here means no handler ever sees such a peer.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrNoIdentity
			}
			id, err := IdentityFromCert(cs.PeerCertificates[0])
			if err != nil {
				return err
			}
			return checkIssuer(id, cs.VerifiedChains)
		},
	}
}

// ClientConfig returns the configuration of a platform client that presents
// its own certificate and accepts only a server whose chain leads to the CA
// and whose identity is expect.
//
// An empty expect.Service accepts any service of expect.Namespace; this is
// for callers that reach a tenant's services through a shared address. An
// empty expect.Namespace accepts nobody, so a forgotten expectation fails
// closed.
func (b *Bundle) ClientConfig(expect Identity) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{b.Cert},
		// Trust rests on the identity, not on the host name, so the default
		// host name check is replaced by verifyServer, which still verifies
		// the full chain against the CA.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs, b.Roots, expect)
		},
	}
}

// verifyServer verifies the server's chain against roots and checks that
// its identity matches expect.
func verifyServer(cs tls.ConnectionState, roots *x509.CertPool, expect Identity) error {
	if len(cs.PeerCertificates) == 0 {
		return ErrNoIdentity
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return fmt.Errorf("verify server certificate: %w", err)
	}
	got, err := IdentityFromCert(leaf)
	if err != nil {
		return err
	}
	if err := checkIssuer(got, chains); err != nil {
		return err
	}
	if !matches(expect, got) {
		return fmt.Errorf("server is %s, want %s: %w", got.URI(), expectation(expect), ErrNoIdentity)
	}
	return nil
}

// matches reports whether got satisfies the expectation.
func matches(expect, got Identity) bool {
	if expect.Namespace == "" || expect.Namespace != got.Namespace {
		return false
	}
	return expect.Service == "" || expect.Service == got.Service
}

// expectation describes an expected identity for an error message.
func expectation(expect Identity) string {
	if expect.Service == "" {
		return "any service in namespace " + expect.Namespace
	}
	return expect.URI()
}

// ServerOnlyConfig returns a TLS 1.3 server configuration that asks for no
// client certificate, for the public proxy port where callers authenticate
// with bearer tokens instead.
func ServerOnlyConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
	}
}

// PublicServerConfig returns the TLS 1.3 configuration of a public port:
// it serves cert and asks for no client certificate, but one given is
// checked against clientRoots, so that a platform identity calling the
// public port (the proxy's own HTTP gateway) can be told apart.
func PublicServerConfig(cert tls.Certificate, clientRoots *x509.CertPool) *tls.Config {
	c := ServerOnlyConfig(cert)
	c.ClientAuth = tls.VerifyClientCertIfGiven
	c.ClientCAs = clientRoots
	return c
}

// ClientRootsConfig returns a TLS 1.3 client configuration that trusts only
// roots and checks the server's host name against serverName, for the CLI
// talking to the public proxy. An empty serverName lets gRPC use the host of
// the dial target.
func ClientRootsConfig(roots *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    roots,
		ServerName: serverName,
	}
}

// IdentityFromCert returns the platform identity in cert's URI SAN. A
// certificate must carry exactly one URI SAN, as SPIFFE requires, so there is
// never a choice between two identities.
func IdentityFromCert(cert *x509.Certificate) (Identity, error) {
	if cert == nil || len(cert.URIs) != 1 {
		return Identity{}, fmt.Errorf("certificate must carry exactly one URI SAN: %w", ErrNoIdentity)
	}
	if id, ok := cachedIdentity(cert); ok {
		return id, nil
	}
	id, err := ParseIdentity(cert.URIs[0].String())
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrNoIdentity, err)
	}
	rememberIdentity(cert, id)
	return id, nil
}
