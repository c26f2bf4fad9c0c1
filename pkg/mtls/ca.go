package mtls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// backdate is subtracted from every NotBefore so that a peer whose clock runs
// a little behind still accepts a certificate issued a moment ago.
const backdate = 5 * time.Minute

// CA is the platform certificate authority. It signs one certificate per
// service identity; every platform peer trusts exactly this CA.
type CA struct {
	// Cert is the self-signed CA certificate.
	Cert *x509.Certificate
	// Key signs issued certificates.
	Key crypto.Signer
	// Root is the platform CA above an intermediate (see IssueIntermediate),
	// and nil for the platform CA itself.
	Root *x509.Certificate

	// now is the issuing clock; nil means time.Now. Tests move it to mint
	// certificates that are already expired.
	now func() time.Time
}

// NewCA creates a self-signed CA with an ECDSA P-256 key, valid from now for
// validity. The name becomes the certificate's common name.
func NewCA(name string, validity time.Duration) (*CA, error) {
	if name == "" || validity <= 0 {
		return nil, errors.New("new CA: need a name and a positive validity")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"M3O"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The CA signs service leaves and, one level down, the runtime's
		// workload CA (IssueIntermediate), which can sign leaves only.
		MaxPathLen:   RootMaxPathLen,
		SubjectKeyId: keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("new CA: sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// RootMaxPathLen is the path length of the platform CA: one intermediate,
// the runtime's workload CA, may sit between it and a leaf.
const RootMaxPathLen = 1

// CertPEM returns the CA certificate in PEM form: for the platform CA, the
// file clients trust.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// rootPEM returns the PEM of the certificate that peers of the CA's leaves
// trust: the platform CA's own.
func (ca *CA) rootPEM() []byte {
	if ca.Root != nil {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})
	}
	return ca.CertPEM()
}

// chainPEM returns a leaf's certificate followed by the intermediate that
// signed it, if any, so that peers trusting only the platform CA can build
// the chain.
func (ca *CA) chainPEM(leafDER []byte) []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	if ca.Root != nil {
		out = append(out, ca.CertPEM()...)
	}
	return out
}

// Pool returns a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// Issue creates a key pair and a certificate for id, usable for both server
// and client authentication. Each entry of hosts becomes an IP SAN when it
// parses as an IP address and a DNS SAN otherwise, so that the certificate
// also serves clients that check host names (the CLI against the proxy). The
// validity is clamped to the CA's own expiry. A bundle issued by an
// intermediate carries the chain: the intermediate's certificate after the
// leaf, and the platform CA as the root it trusts.
func (ca *CA) Issue(id Identity, hosts []string, validity time.Duration) (*Bundle, error) {
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	if validity <= 0 {
		return nil, errors.New("issue: validity must be positive")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue %s: generate key: %w", id, err)
	}
	tmpl, err := ca.leafTemplate(id, hosts, validity)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", id, err)
	}
	tmpl.SubjectKeyId = keyID(&key.PublicKey)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue %s: sign: %w", id, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", id, err)
	}
	return newBundle(
		ca.chainPEM(der),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		ca.rootPEM(),
	)
}

// leafTemplate builds the certificate template for an issued identity.
func (ca *CA) leafTemplate(id Identity, hosts []string, validity time.Duration) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	uri, err := parseURL(id.URI())
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if ca.now != nil {
		now = ca.now()
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: id.Service, OrganizationalUnit: []string{id.Namespace}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{uri},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl, nil
}

// newSerial returns a random 128-bit serial number, as RFC 5280 asks of CAs
// that cannot keep a counter.
func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return serial, nil
}

// keyID derives a subject key identifier from the public key, as RFC 7093
// method 1 does, so that chains can be matched by key.
func keyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}

// loadKeyPair parses PEM certificate and key into a tls.Certificate with its
// leaf parsed, so that handshakes need not parse it again.
func loadKeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, err
		}
	}
	return cert, nil
}
